"""Coupons: issued to a member by type (CPN-* rules), redeemed once at the till or the mall."""
