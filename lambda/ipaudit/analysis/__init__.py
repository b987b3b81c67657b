"""Pure analysis of collected snapshots: no clients, no I/O."""
