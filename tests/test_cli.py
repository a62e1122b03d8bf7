import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # subprocesses, torch, or a real model


def run(*args, env_home=None):
    return subprocess.run([sys.executable, "-m", "amqa.frontends.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_ask_json(seed_store):
    r = run("ask", "Quel est le budget du second AMI ?", "--store", str(seed_store), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"answer", "abstained", "outcome", "citations", "timings"} and out["outcome"] == "answered"
    c = out["citations"][0]
    assert set(c) >= {"n", "source", "chunk_id", "start", "end", "text", "score", "marks"}
    assert c["marks"] and all(c["start"] <= a < b <= c["end"] for a, b in c["marks"])  # not vacuously
    assert c["source"] == "002_d86c49a6ec5f4adf.txt" and "10 millions" in out["answer"]


def test_ask_prints_sources_under_the_answer(seed_store):
    r = run("ask", "Who is the director of AMTalents?", "--store", str(seed_store))
    assert r.returncode == 0, r.stderr
    assert "[1] 000_c8fb014e83a46547.txt" in r.stdout and "**Coline Moal Vignon**" in r.stdout  # marked (piped: **)


def test_user_errors_are_one_line_without_traceback(tmp_path):
    for args in (["ask", ""], ["ask", "x", "-k", "0"], ["index", "--docs", str(tmp_path / "missing")]):
        r = run(*args)
        assert r.returncode == 1
        assert r.stderr.startswith("amqa: error:") and len(r.stderr.strip().splitlines()) == 1
        assert "Traceback" not in r.stderr


def test_ask_does_not_import_heavy_packages(seed_store):
    code = ("import sys; from amqa.frontends.cli import main; main(['ask', 'Metz ?', '--store', %r]); "
            "print(sorted(m for m in ('torch', 'transformers', 'gradio', 'sentence_transformers') if m in sys.modules))"
            % str(seed_store))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_index_own_folder_and_ask(tmp_path):
    docs = tmp_path / "mydocs"
    docs.mkdir()
    (docs / "note.md").write_text("# Bibliothèque\n\nLa bibliothèque du campus ouvre à 8 heures le samedi.",
                                  encoding="utf-8")
    r = run("index", "--docs", str(docs), "--store", str(tmp_path / "s"))
    assert r.returncode == 0 and "1 added" in r.stdout, r.stderr
    r = run("ask", "À quelle heure ouvre la bibliothèque le samedi ?", "--docs", str(docs),
            "--store", str(tmp_path / "s"), "--json")
    out = json.loads(r.stdout)
    assert out["citations"][0]["source"] == "note.md" and "8 heures" in out["answer"]

    # Edited, added and removed files are picked up by the next question, without `amqa index`.
    (docs / "note.md").write_text("# Bibliothèque\n\nLa bibliothèque du campus ouvre à 9 heures le samedi.",
                                  encoding="utf-8")
    (docs / "cafe.txt").write_text("The campus cafeteria serves vegetarian lunches every Tuesday.", encoding="utf-8")
    r = run("ask", "À quelle heure ouvre la bibliothèque le samedi ?", "--docs", str(docs),
            "--store", str(tmp_path / "s"), "--json")
    out = json.loads(r.stdout)
    assert "9 heures" in out["answer"] and "8 heures" not in out["answer"], r.stderr
    (docs / "note.md").unlink()
    r = run("ask", "When does the cafeteria serve vegetarian lunches?", "--docs", str(docs),
            "--store", str(tmp_path / "s"), "--json")
    out = json.loads(r.stdout)
    assert {c["source"] for c in out["citations"]} == {"cafe.txt"} and "Tuesday" in out["answer"]
    from amqa.index.local.store import read_manifest

    assert set(read_manifest(tmp_path / "s").files) == {"cafe.txt"}


def test_eval_command_prints_table_and_writes_json(seed_store, tmp_path):
    qset = tmp_path / "set.jsonl"
    rows = [
        {"id": "t1", "question": "Quelle somme accompagne l'arrivée du Cnam à Montbéliard ?", "language": "fr",
         "sources": ["004_1b3744d526457350.txt"], "answer": "100 000 euros", "key_facts": [["100 000"]]},
        {"id": "t2", "question": "Which recipe makes the best chocolate cake?", "language": "en", "sources": []},
    ]
    qset.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    out = tmp_path / "scores.json"
    r = run("eval", "--set", str(qset), "--store", str(seed_store), "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert "recall@5" in r.stdout and "by lingual" in r.stdout
    scores = json.loads(out.read_text())
    assert scores["summary"]["questions"] == 2 and scores["summary"]["recall@1"] == 1.0
    assert scores["summary"]["abstain_recall"] == 1.0 and len(scores["questions"]) == 2


def test_eval_rejects_a_broken_set(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    r = run("eval", "--set", str(bad))
    assert r.returncode == 1 and "missing field" in r.stderr and "Traceback" not in r.stderr
