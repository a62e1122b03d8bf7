"""The service layer: one engine that every front end (CLI, web UI, HTTP API, MCP) goes through.

- :mod:`.keeper`: the loaded index, built when missing and kept caught up with the folders.
- :mod:`.library`: the documents indexed; adding and removing one.
- :mod:`.pipeline`: question -> standalone query -> search -> writer -> Answer.
- :mod:`.admission`: the answering slots, one pool per kind of writer, shared by every front end.
"""
