"""Reading a folder: scanning it, reading each format into a Document, chunking, uploads."""
