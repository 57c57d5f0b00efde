"""Linking across the border: entity resolution (Splink) and privacy-preserving hit/no-hit (CLKs)."""
