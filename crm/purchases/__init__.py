"""Purchases: POS and mini-program-mall orders, the proof of purchase behind warranty decisions."""
