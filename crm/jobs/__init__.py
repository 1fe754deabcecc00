"""Scheduled jobs: the daily run that expires points and coupons, issues birthday coupons,
re-rates tiers (downgrades included) and forgets old idempotency records."""
