"""One settings object: the only reader of AMQA_* variables, with flags laid over it."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from amqa.errors import InvalidInputError
from amqa.settings import VARIABLES, Settings, bundled_eval_set, bundled_seeds
from conftest import KEPT_VARIABLES

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_environment_and_overrides(tmp_path):
    env = {"AMQA_DOCS": str(tmp_path), "AMQA_K": "8", "AMQA_EMBEDDER": "hash", "AMQA_GENERATOR": "openai",
           "AMQA_BASE_URL": "http://127.0.0.1:1/v1", "AMQA_MODEL": "m", "AMQA_LLM_TIMEOUT": "2.5",
           "AMQA_PORT": "8000", "AMQA_QUERY_PREFIX": "", "OPENAI_API_KEY": "sk-x"}
    s = Settings.from_env(env)
    assert (s.docs, s.k, s.embedder, s.generator, s.llm_timeout, s.port) == (tmp_path, 8, "hash", "openai", 2.5, 8000)
    assert s.query_prefix == "" and s.passage_prefix is None and s.api_key == "sk-x"
    assert "sk-x" not in repr(s)
    flags = s.replace(k=3, docs=None, model="other")  # None: a flag that was not given
    assert (flags.k, flags.docs, flags.model) == (3, tmp_path, "other")
    assert Settings.from_env({}).k == 5 and Settings.from_env({}).generator == "extractive"


@pytest.mark.parametrize("env, message", [
    ({"AMQA_K": "many"}, "AMQA_K must be an integer. Currently, AMQA_K is 'many'"),
    ({"AMQA_K": "0"}, "k must be an integer between 1 and 50. Currently, k is 0"),
    ({"AMQA_PORT": "99999"}, "port must be between 1 and 65535"),
    ({"AMQA_LLM_TIMEOUT": "-1"}, "timeout must be a positive number"),
])
def test_bad_values_are_clear_errors(env, message):
    with pytest.raises(InvalidInputError, match=message):
        Settings.from_env(env)


def test_every_variable_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in VARIABLES if f"| `{name}` |" not in readme]
    assert not missing, f"README's variable table lacks {missing}"


def test_only_the_settings_module_reads_the_environment():
    readers = sorted(p.name for p in (ROOT / "src" / "amqa").glob("*.py") if "os.environ" in p.read_text(encoding="utf-8")
                     or "getenv" in p.read_text(encoding="utf-8"))
    assert readers == ["settings.py"]


def test_the_fixture_leaves_no_amqa_variable(settings, tmp_path):
    assert [v for v in os.environ
            if v.startswith("AMQA_") and v != "AMQA_HOME" and v not in KEPT_VARIABLES] == []
    assert settings.home == tmp_path / "amqa-home" and settings.generator == "extractive"


def test_seeds_and_eval_set_come_with_the_package_and_the_store_goes_to_the_home(settings):
    import amqa

    package = Path(amqa.__file__).resolve().parent
    assert sorted(p.name for p in bundled_seeds().glob("*.txt")) == sorted(p.name for p in (ROOT / "seeds").glob("*.txt"))
    assert bundled_eval_set().is_file()
    store = settings.store_folder(bundled_seeds())
    assert store.is_relative_to(settings.home) and not store.is_relative_to(package)


def test_environment_reaches_every_path(settings, tmp_path, monkeypatch):
    """AMQA_K is used by answer(), AMQA_EMBEDDER by the Engine and the CLI, not only by serve."""
    from amqa import Engine, answer

    monkeypatch.setenv("AMQA_K", "2")
    monkeypatch.setenv("AMQA_EMBEDDER", "hash")
    monkeypatch.setenv("AMQA_STORE", str(tmp_path / "store"))
    e = Engine(progress=False)
    assert e.k == 2 and e.embedder.id == "hash-v1" and e.store == tmp_path / "store"
    a = answer("Combien d'entreprises compte le bassin de Montbéliard ?")
    assert len(a.hits) == 2
    r = subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "ask", "Où se trouve le campus marocain ?", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "store" / "CURRENT").is_file()
