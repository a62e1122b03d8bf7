"""The registry of search backends: a name, and how to open that backend over some documents.

Adding a backend is one module implementing :class:`~amqa.index.protocol.SearchBackend` and one entry here.
``Engine(backend="memory")`` answers from an exact in-memory index of the folders, built at first
use, with no store (it does not follow changes to the files); ``"local"``, the default, is the
crash-safe on-disk store that follows them; ``"postgres"`` keeps the index in a PostgreSQL database with
pgvector (``dsn``: :mod:`amqa.index.postgres`), followed as the local store is.

>>> sorted(BACKENDS)
['local', 'memory', 'postgres']
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from amqa.embedders import Embedder
from amqa.errors import InvalidInputError, NoDocumentsError
from amqa.index.protocol import SearchBackend
from amqa.ingest.chunking import ChunkSettings
from amqa.ingest.documents import DocumentFolder, load_folder


@dataclass(frozen=True)
class BackendSource:
    """What a backend is opened over: the folders, the embedder, the chunk settings and the store
    (the local backend's folder) or the database (``dsn``, the postgres backend's)."""

    folders: Sequence[DocumentFolder]
    embedder: Embedder
    chunking: ChunkSettings | None
    store: Path
    dsn: str | None = None


def _local(source: BackendSource) -> SearchBackend:
    from amqa.index.local.backend import LocalBackend
    from amqa.index.local.store import update_index

    report = update_index(source.folders, source.store, source.embedder, source.chunking, progress=False)
    if report.index is None or not report.index.chunks:
        raise NoDocumentsError(f"no document to index in {', '.join(str(f.path) for f in source.folders)}")
    return LocalBackend(report.index)


def _memory(source: BackendSource) -> SearchBackend:
    from dataclasses import replace

    from amqa.index.memory import MemoryBackend

    documents = []
    for folder in source.folders:
        docs, _ = load_folder(folder.path)
        documents += [replace(d, source=folder.prefix + d.source) for d in docs]
    if not documents:
        raise NoDocumentsError(f"no document to index in {', '.join(str(f.path) for f in source.folders)}")
    return MemoryBackend.build(documents, source.embedder, source.chunking or ChunkSettings())


def _postgres(source: BackendSource) -> SearchBackend:
    from amqa.index.postgres.backend import PostgresBackend
    from amqa.index.postgres.schema import PostgresConfig
    from amqa.index.postgres.writer import update_postgres

    config = PostgresConfig(source.dsn or "")
    update_postgres(source.folders, config, source.embedder, source.chunking)
    return PostgresBackend(config, source.embedder.id)


#: Backend name -> how to open it.
BACKENDS: dict[str, Callable[[BackendSource], SearchBackend]] = {"local": _local, "memory": _memory,
                                                                 "postgres": _postgres}
#: The backends whose index the keeper follows (updates when the files change); the others are built once.
FOLLOWED = frozenset({"local", "postgres"})


def open_backend(name: str, source: BackendSource) -> SearchBackend:
    """Open backend ``name`` over ``source`` (one-line error for an unknown name)."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise InvalidInputError(f"unknown backend {name!r}: choose one of {', '.join(sorted(BACKENDS))}") from None
    return factory(source)
