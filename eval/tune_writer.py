"""Measure answer-writer settings on every set at once: the seeds, the Debian Reference, XQuAD.

    python eval/tune_writer.py                          # the current settings
    python eval/tune_writer.py 'COVER_MARGIN=0.08' 'max_sentences=2,cover_margin=-1' 'policy.answer_above=0.84'

Each argument is one configuration: comma-separated overrides of the writer's tunables (the fields of
amqa.writers.extractive.sentences.WriterConfig, in either case, or ``writer.FIELD``), of amqa.retrieval.search.RetrievalConfig's (``retrieval.FIELD``, or the
field alone), or of the answer policy's fields with ``policy.``. For each, a row per set: key facts in
answered text, key facts shown (answered or related), citation recall, answerable questions given
"nothing found", and the near-miss / off-topic outcomes; for XQuAD, first citation gold and "answer
holds a gold string" (the same overrides, passed to squad_benchmark's engine).
Needs the Debian Reference folder (python eval/debian_reference.py) and ../shared/external/xquad.
``--xquad N`` asks only the first N XQuAD questions of each pair (default all 1190).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from amqa import Engine
from amqa.writers.extractive.sentences import WriterConfig
from amqa.retrieval.search import RetrievalConfig
from amqa.evaluation import evaluate, load_questions, squad_benchmark

ROOT = Path(__file__).resolve().parents[1]
XQUAD = ROOT.parent / "shared" / "external" / "xquad"
sys.path.insert(0, str(ROOT / "eval"))
from debian_reference import default_out  # noqa: E402


def apply(config: str, engines: list[Engine]) -> dict:
    """Set the overrides (fields of the retrieval or writer config, or ``policy.FIELD``); return the
    previous values to restore."""
    saved: dict = {}
    for item in filter(None, (x.strip() for x in config.split(","))):
        name, value = item.split("=", 1)
        parsed = eval(value, {})  # a number, True/False, None: a developer's own command line
        fields = {f.name for f in dataclasses.fields(RetrievalConfig)}
        writer_fields = {f.name for f in dataclasses.fields(WriterConfig)}
        if name.startswith("retrieval.") or name.lower() in fields:  # retrieval.rrf_k=, or the old RRF_K=
            field = name.split(".", 1)[-1].lower()
            for e in engines:
                saved.setdefault(("retrieval", id(e)), e.retrieval)
                e.retrieval = dataclasses.replace(e.retrieval, **{field: parsed})
        elif name.startswith("policy."):
            field = name.split(".", 1)[1]
            for e in engines:
                saved.setdefault(("policy", id(e)), e.policy)
                e.policy = dataclasses.replace(e.policy, **{field: parsed})  # the writer reads engine.policy
        elif name.startswith("writer.") or name.lower() in writer_fields:  # writer.cover_margin=, COVER_MARGIN=
            field = name.split(".", 1)[-1].lower()
            for e in engines:
                saved.setdefault(("writer_config", id(e)), e.writer_config)
                e.writer_config = dataclasses.replace(e.writer_config, **{field: parsed})
        else:
            raise SystemExit(f"{item}: no such setting (writer: {', '.join(sorted(writer_fields))}; retrieval: "
                             f"{', '.join(sorted(fields))}; or policy.FIELD)")
    return saved


def restore(saved: dict, engines: list[Engine]) -> None:
    for (attribute, engine_id), value in saved.items():
        for e in engines:
            if id(e) == engine_id:
                setattr(e, attribute, value)


def row(name: str, s: dict, types: dict, records: list[dict]) -> str:
    near = types.get("unanswerable", {})
    off = types.get("off-topic", {})

    def outcomes(m: dict) -> str:
        return "/".join(f"{m.get(f'unanswerable_{o}', 0):.2f}" for o in ("answered", "related", "nothing")) if m else "-"

    return (f"  {name:<9} keyfacts {s['key_fact_recall']:.3f}  shown {s['key_fact_shown']:.3f}  "
            f"cit.rec {s['citation_recall']:.3f}  cit.prec {s['citation_precision']:.3f}  "
            f"ans->nothing {s['answerable_nothing']:.3f}  ans->related {s['answerable_related']:.3f}  "
            f"near-miss a/r/n {outcomes(near)}  off-topic a/r/n {outcomes(off)}  quotes {quotes(records):.2f}")


def quotes(records: list[dict]) -> float:
    """Quotes per answer shown (answered or related only)."""
    shown = [r for r in records if r["outcome"] != "nothing"]
    return sum(r["quotes"] for r in shown) / max(1, len(shown))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="*", default=[""])
    parser.add_argument("--xquad", type=int, default=None, help="first N XQuAD questions per pair")
    parser.add_argument("--no-xquad", action="store_true")
    args = parser.parse_args()

    seeds = Engine(progress=True)
    debian_docs = default_out()
    debian = Engine(debian_docs, progress=True) if debian_docs.is_dir() else None
    sets = [("seeds", seeds, load_questions()),
            ("follow-up", seeds, load_questions(ROOT / "eval" / "followups.jsonl"))]
    if debian is not None:
        sets.append(("debian", debian, load_questions(ROOT / "eval" / "debian.jsonl")))
    engines = [e for _, e, _ in sets]
    for config in args.configs:
        saved = apply(config, engines)
        t0 = time.perf_counter()
        print(f"== {config or 'current settings'}")
        for name, engine, questions in sets:
            report = evaluate(engine, questions)
            print(row(name, report["summary"], report["breakdowns"]["type"], report["questions"]), flush=True)
        if not args.no_xquad:
            for q in ("en", "es"):
                r = squad_benchmark(XQUAD / f"xquad.{q}.json", XQUAD / "xquad.en.json", limit=args.xquad,
                                    retrieval=seeds.retrieval, writer_config=seeds.writer_config, policy=seeds.policy)
                print(f"  xquad {q}/en first citation {r['first_citation_gold']:.3f}  answer has gold "
                      f"{r['answer_has_gold']:.3f}  answered/related/nothing {r['outcome_answered']:.3f}/"
                      f"{r['outcome_related']:.3f}/{r['outcome_nothing']:.3f}  quotes {r['quotes_per_answer']:.2f}", flush=True)
        print(f"  ({time.perf_counter() - t0:.0f} s)")
        restore(saved, engines)


if __name__ == "__main__":
    main()
