"""The local backend: FAISS segments in a crash-safe store on disk (the default)."""
