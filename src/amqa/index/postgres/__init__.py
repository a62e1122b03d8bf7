"""The postgres backend: amqa's index in PostgreSQL with pgvector, behind the same seam as the local store.

Several amqa processes (or machines) can answer from one database; every write is a transaction. What
is kept (schema ``amqa`` by default, :mod:`amqa.index.postgres.schema`): the files' records of the
manifest, the chunks and the embedded sentences with their ``vector(dim)`` columns (HNSW indexes), amqa's
own BM25 tokens as postings (token, chunk, tf), and a ``meta`` table with the schema version, the
embedder and the chunk settings. Scores are amqa's: the dense parts are computed from the vectors
the database returns, exactly as the local backend computes them, and BM25 with
:mod:`amqa.index.bm25` from the postings, so that both backends give the same hits
(``tests/test_postgres.py``).

    pip install 'amqa[postgres]'
    amqa index --backend postgres --dsn postgresql://user:password@host:5432/db --docs DIR
    amqa ask --backend postgres --dsn ... "question"          (or AMQA_BACKEND=postgres AMQA_PG_DSN=...)

The modules: :mod:`.schema` (connecting, with one-line errors, and the schema), :mod:`.writer`
(:func:`~amqa.index.postgres.writer.update_postgres`, the :class:`~amqa.index.planner.IndexWriter`),
:mod:`.backend` (:class:`~amqa.index.postgres.backend.PostgresBackend`, the
:class:`~amqa.index.protocol.SearchBackend`).
"""
