"""Collection: sources (demo generator, files, APIs) → canonical posts."""
