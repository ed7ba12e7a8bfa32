"""Validation: Great Expectations contracts, quarantine with reasons, the dataset gate."""
