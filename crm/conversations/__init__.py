"""Conversations and every message that goes in or out."""
