"""Inputs: declared configuration models (architecture, validation), YAML loading and size
limits."""
