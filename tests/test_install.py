"""Installs anywhere: the wheel carries the seeds and the evaluation set, and answers from any folder
without writing into the installed package."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # builds a wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # From a copy of what git tracks: a build/ folder left in the checkout would leak stale files in.
    tree = out / "tree"
    for name in ("pyproject.toml", "README.md"):
        tree.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, tree / name)
    for name in ("src", "seeds", "eval"):
        shutil.copytree(ROOT / name, tree / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(tree)], check=True, capture_output=True, timeout=300)
    return next(out.glob("amqa-*.whl"))


def test_the_wheel_carries_seeds_and_eval_set(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    seeds = sorted(n.split("/")[-1] for n in names if n.startswith("amqa/seeds/"))
    assert seeds == sorted(p.name for p in (ROOT / "seeds").glob("*.txt"))
    assert "amqa/eval/questions.jsonl" in names
    assert not [n for n in names if n.startswith("amqa/eval/") and n.endswith(".py")]


def test_installed_package_answers_from_another_folder_and_writes_nothing_into_itself(wheel, tmp_path, settings):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    before = sorted(str(p) for p in target.rglob("*") if "__pycache__" not in p.parts)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import amqa; from amqa import answer; "
            "a = answer(\"Combien d'apprentis sont formés à Arts et Métiers ?\", embedder='hash'); "
            "print(amqa.__file__); print(a.citations[0].source)")
    env = {**__import__("os").environ, "PYTHONPATH": str(target)}
    r = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    module, source = r.stdout.split()
    assert Path(module).is_relative_to(target), "the installed copy was imported, not the checkout"
    assert source in {p.name for p in (ROOT / "seeds").glob("*.txt")}
    after = sorted(str(p) for p in target.rglob("*") if "__pycache__" not in p.parts)
    assert after == before, "nothing is written into the installed package"
    assert list(elsewhere.iterdir()) == [] and list(settings.home.glob("stores/seeds-*/CURRENT"))
    r = subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "eval", "--embedder", "hash"], cwd=elsewhere, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "recall@5" in r.stdout, r.stderr
