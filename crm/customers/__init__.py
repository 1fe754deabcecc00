"""Customers and their WeChat identities."""
