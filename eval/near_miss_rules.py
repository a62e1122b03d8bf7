"""Measure "related passages only" rules for near misses on the seeds, the Debian Reference and XQuAD.

    python eval/near_miss_rules.py

Asks every question of each set (near misses included, off-topic ones left out), records for each
answered one the asked type, the best sentence's similarity, and how much of the question's rare words
the quotes holding the asked type hold; then prints, for each rule, how many near misses it would
still answer and how many answerable questions it would move to "related only" (and how many of those
answers held the key fact). Results: eval/README.md, "Related passages only".
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from amqa import Engine
from amqa.writers.extractive.sentences import expected_answer_type, holds_answer_type, rank_sentences
from amqa.evaluation import EVAL_K, key_fact_recall, load_questions
from amqa.settings import Settings
from amqa.text import normalize, tokenize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))
from debian_reference import default_out  # noqa: E402
from learn_scorer import squad_items  # noqa: E402


def coverage(engine: Engine, answer, atype: str | None) -> float:
    """The idf-weighted share of the question's words held by the best quote holding the asked type."""
    lexicon = engine.backend.lexicon
    q = set(tokenize(answer.question, answer.language))
    weight = sum(lexicon.idf(t) for t in q) or 1.0
    best = 0.0
    for c in answer.citations:
        if atype and not holds_answer_type(c.text, atype):
            continue
        held = q & set(tokenize(c.text, answer.language))
        best = max(best, sum(lexicon.idf(t, unseen=0.0) for t in held) / weight)
    return best


def record(name: str, engine: Engine, question: str, kind: str, correct) -> dict:
    atype = expected_answer_type(question)
    a = engine.answer(question, k=EVAL_K)
    result = engine.search(question, k=EVAL_K)
    ranked = rank_sentences(result, atype)
    return {"set": name, "kind": kind, "typed": atype is not None, "answered": not a.abstained,
            "coverage": coverage(engine, a, atype), "dense": ranked[0].dense if ranked else 0.0,
            "same_language": result.corpus_has_language,
            "correct": bool(correct(" ".join(c.text for c in a.citations))) and not a.abstained}


def main() -> None:
    settings = Settings.from_env()
    rows = []
    for name, engine, questions in (("seeds", Engine(settings=settings), load_questions()),
                                    ("debian", Engine(default_out(), settings=settings),
                                     load_questions(ROOT / "eval" / "debian.jsonl"))):
        for q in questions:
            if q["type"] != "off-topic":
                rows.append(record(name, engine, q["question"], "near-miss" if not q["answerable"] else "answerable",
                                   lambda t, q=q: q["answerable"] and key_fact_recall(t, q["key_facts"]) > 0))
    squad = next((Path(settings.home) / "squad").glob("xquad.en-*"))
    xq = Engine(squad / "docs", squad / "store", settings=settings)
    for lang in ("en", "es"):
        for question, _, _, gold in squad_items(lang):
            rows.append(record(f"xquad-{lang}", xq, question, "answerable",
                               lambda t, gold=gold: any(normalize(g) in normalize(t) for g in gold)))
    (Path(settings.home) / "near_miss_rows.json").write_text(json.dumps(rows))

    def show(label: str, moved) -> None:
        cells = []
        for s in ("seeds", "debian", "xquad-en", "xquad-es"):
            near = [r for r in rows if r["set"] == s and r["kind"] == "near-miss" and r["answered"]]
            ans = [r for r in rows if r["set"] == s and r["kind"] == "answerable" and r["answered"]]
            miss = f"near misses answered {sum(not moved(r) for r in near)}/{len(near)}, " if near else ""
            cells.append(f"{s}: {miss}moved {sum(map(moved, ans))}/{len(ans)} "
                         f"(correct {sum(moved(r) and r['correct'] for r in ans)})")
        print(f"{label:<34}", " | ".join(cells))

    show("no rule", lambda r: False)
    for d in (0.85, 0.86, 0.87, 0.88):
        show(f"typed & similarity < {d}", lambda r, d=d: r["typed"] and r["dense"] < d)
    for c in (0.3, 0.4, 0.5, 0.6, 0.7):
        show(f"typed & coverage < {c} (same lang)", lambda r, c=c: r["typed"] and r["same_language"] and r["coverage"] < c)
    for c in (0.4, 0.5, 0.6):
        for d in (0.86, 0.87, 0.88):
            show(f"typed & coverage < {c} & sim < {d}",
                 lambda r, c=c, d=d: r["typed"] and r["coverage"] < c and r["dense"] < d)


if __name__ == "__main__":
    main()
