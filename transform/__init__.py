"""The reconcile as plain code: SQL models and the stages that build them, in one order (docs/architecture.md)."""
