"""Repair tickets: intake with a warranty decision, the lifecycle, tracking and satisfaction."""
