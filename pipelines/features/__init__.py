"""Features: the one implementation used by training, batch scoring and online serving."""
