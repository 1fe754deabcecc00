"""Membership tiers: rolling 12-month spend, upgrades, the validity year and progress."""
