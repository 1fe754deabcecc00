"""The customer's rights under PIPL: see what we hold, get a copy (approved export), be erased."""
