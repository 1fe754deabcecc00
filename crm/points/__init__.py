"""Member points: an append-only ledger with a cached, never-negative balance per member."""
