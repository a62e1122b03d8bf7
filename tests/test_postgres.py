"""The postgres backend against a real PostgreSQL 18 with pgvector (the ``postgres_dsn`` fixture:
eval/pg_server.py), compared with the local backend over the same folders: the same hits, ids, order
and scores (compare_backends), with the hash embedder and with the real model."""
import os
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
sys.path.insert(0, str(ROOT / "tests"))
from test_backends import QUESTIONS, _xquad_folder, hits  # noqa: E402  (the same questions as the memory backend's)


def test_the_server_is_postgresql_with_pgvector_run_by_a_non_root_user(postgres_dsn):
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        version = conn.execute("SHOW server_version").fetchone()[0]
        vector = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        host = conn.execute("SELECT inet_server_addr()::text").fetchone()[0]
    assert version.startswith("18.") and vector.split(".")[:2] == ["0", "8"]
    assert Path(f"/proc/{pid}").stat().st_uid != 0 or os.geteuid() != 0  # Postgres refuses root
    assert host.startswith("127.0.0.1")
