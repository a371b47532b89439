"""Pricing: energy and area, counts x tables. Depends on the engine only through its counts."""
