"""The audit log: who did what in the back office, when and from where (append-only)."""
