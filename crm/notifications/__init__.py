"""Telling a customer something outside a conversation (ticket updates, coupons)."""
