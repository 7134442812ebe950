"""The `capsule-xero` command: the top layer, which may use every package below it (docs/architecture.md)."""
