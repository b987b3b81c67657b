"""Alert lifecycle: which findings on-call hears about, and when (docs/alerts.md)."""
