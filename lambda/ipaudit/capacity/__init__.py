"""Where the next pod address comes from, and how many nodes and pods still fit: the one
capacity model every answer asks (docs/design.md, "The capacity model"). Pure: no AWS or
Kubernetes calls."""
