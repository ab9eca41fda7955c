"""Corpora: fetching raw files (mirror folder or public URL + sha256) and one reader per format."""
