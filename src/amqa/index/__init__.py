"""The index: the search-backend protocol, the planner (what to read, chunk, embed), the backends."""
