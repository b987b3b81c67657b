"""Days until a subnet runs out of addresses, from the stored history (pure)."""
