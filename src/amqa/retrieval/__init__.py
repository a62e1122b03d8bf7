"""Hybrid retrieval above any backend: dense + BM25, weighted reciprocal rank fusion, language centering."""
