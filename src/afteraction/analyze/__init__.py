"""Analyses over the store: each returns a typed, JSON-serialisable result and never formats or prints."""
