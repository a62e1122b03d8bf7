"""Measure answer-writer settings on every set at once, and choose them held out by collection.

    python eval/tune_writer.py --stores DIR --xquad 300          # the current settings
    python eval/tune_writer.py --stores DIR --no-xquad '' 'COVER_MARGIN=0.08' 'policy.answer_above=0.84'
    python eval/tune_writer.py --only python,manpages --no-xquad '' 'max_sentences=2,cover_margin=-1'

Each argument is one configuration: comma-separated overrides of the writer's tunables (the fields of
amqa.writers.extractive.sentences.WriterConfig, in either case, or ``writer.FIELD``), of amqa.retrieval.search.RetrievalConfig's (``retrieval.FIELD``, or the
field alone), or of the answer policy's fields with ``policy.``; ``''`` is the current settings (list it
first: held-out ties go to the first configuration). For each, a row per set: key facts in
answered text, key facts shown (answered or related), citation recall, answerable questions given
"nothing found", the near-miss / off-topic outcomes, and the set's objective (eval/held_out.py's
``objective``: key_facts + right_source + (1 - near_miss_answered) - 4 * answerable_nothing); for XQuAD,
first citation gold and "answer holds a gold string" (the same overrides, passed to squad_benchmark's engine).

The sets: the seeds and their follow-ups (guards) and every collection of eval/corpora (``NAMES``:
debian, python, libreoffice, manpages; documents from ``eval/collection.py fetch NAME``, stores
``DIR/NAME-store`` with ``--stores DIR``, else amqa's default store for the folder; a missing store is
built first, which takes 6-13 min a collection: ``--only`` skips it). After every configuration, the
held-out table: for each collection C, the configuration with the best mean objective over the OTHER
collections and C's metrics under it; their mean over the collections, and the same for the first
configuration. The seeds, follow-ups and XQuAD are printed as guards, never used to choose.
``--json OUT`` writes every set's metrics under every configuration and the held-out choice.
XQuAD needs ../shared/external/xquad: ``--xquad N`` asks only the first N questions of each pair
(default all 1190), ``--no-xquad`` none.
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
import corpora  # noqa: E402
from held_out import METRICS, format_metrics, held_out_table, metrics  # noqa: E402


def apply(config: str, engines: list[Engine]) -> dict:
    """Set the overrides (fields of the retrieval or writer config, or ``policy.FIELD``); return the
    previous values to restore."""
    saved: dict = {}
    for item in filter(None, (x.strip() for x in config.split(","))):
        if "=" not in item:
            raise SystemExit(f"{item}: not NAME=VALUE")
        name, value = item.split("=", 1)
        parsed = eval(value, {})  # a number, True/False, None: a developer's own command line
        fields = {f.name for f in dataclasses.fields(RetrievalConfig)}
        writer_fields = {f.name for f in dataclasses.fields(WriterConfig)}
        field = name.split(".", 1)[-1].lower()
        if name.startswith(("retrieval.", "writer.")) and field not in (fields if name[0] == "r" else writer_fields):
            raise SystemExit(f"{item}: {name.split('.')[0]} has no field {field!r}")
        if name.startswith("retrieval.") or name.lower() in fields:  # retrieval.rrf_k=, or the old RRF_K=
            for e in engines:
                saved.setdefault(("retrieval", id(e)), e.retrieval)
                e.retrieval = dataclasses.replace(e.retrieval, **{field: parsed})
        elif name.startswith("policy."):
            field = name.split(".", 1)[1]
            if field not in {f.name for f in dataclasses.fields(engines[0].policy)}:
                raise SystemExit(f"{item}: the policy has no field {field!r}")
            for e in engines:
                saved.setdefault(("policy", id(e)), e.policy)
                e.policy = dataclasses.replace(e.policy, **{field: parsed})  # the writer reads engine.policy
        elif name.startswith("writer.") or name.lower() in writer_fields:  # writer.cover_margin=, COVER_MARGIN=
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

    return (f"  {name:<11} keyfacts {s['key_fact_recall']:.3f}  shown {s['key_fact_shown']:.3f}  "
            f"cit.rec {s['citation_recall']:.3f}  cit.prec {s['citation_precision']:.3f}  "
            f"ans->nothing {s['answerable_nothing']:.3f}  ans->related {s['answerable_related']:.3f}  "
            f"near-miss a/r/n {outcomes(near)}  off-topic a/r/n {outcomes(off)}  quotes {quotes(records):.2f}")


def quotes(records: list[dict]) -> float:
    """Quotes per answer shown (answered or related only)."""
    shown = [r for r in records if r["outcome"] != "nothing"]
    return sum(r["quotes"] for r in shown) / max(1, len(shown))


def collection_sets(names: list[str], stores: Path | None) -> list[tuple[str, Engine, list[dict]]]:
    """One (name, engine, questions) per collection; a missing store is built now (and said so)."""
    out = []
    for name in names:
        module = corpora.get(name)
        docs = corpora.fetch(name)
        engine = Engine(docs, stores / f"{name}-store" if stores is not None else None, progress=True)
        if not (engine.store / "CURRENT").is_file():
            print(f"({name}: no index in {engine.store}: building it, 6-13 min; --only skips it)", flush=True)
        engine.warm_up()
        out.append((name, engine, load_questions(module.SET)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="*", default=[""])
    parser.add_argument("--stores", type=Path, help="folder of the collections' stores, DIR/NAME-store")
    parser.add_argument("--only", help="comma-separated sets to measure (seeds, follow-up and collection names)")
    parser.add_argument("--xquad", type=int, default=None, help="first N XQuAD questions per pair")
    parser.add_argument("--no-xquad", action="store_true")
    parser.add_argument("--json", type=Path, help="write every metric and the held-out choice to this file")
    args = parser.parse_args()
    known = ["seeds", "follow-up", *corpora.NAMES]
    only = [x.strip() for x in args.only.split(",") if x.strip()] if args.only else known
    if unknown := [x for x in only if x not in known]:
        raise SystemExit(f"--only {','.join(unknown)}: no such set (choose from {', '.join(known)})")

    seeds = Engine(progress=True)
    for config in args.configs:  # a typo fails now, not after an hour of measuring
        restore(apply(config, [seeds]), [seeds])
    sets = []
    if "seeds" in only:
        sets.append(("seeds", seeds, load_questions()))
    if "follow-up" in only:
        sets.append(("follow-up", seeds, load_questions(ROOT / "eval" / "followups.jsonl")))
    collections = [n for n in corpora.NAMES if n in only]
    sets += collection_sets(collections, args.stores)
    engines = list({id(e): e for e in [seeds, *(e for _, e, _ in sets)]}.values())
    results: dict[str, dict] = {}
    for config in args.configs:
        if config in results:
            raise SystemExit(f"configuration {config!r} is listed twice")
        saved = apply(config, engines)
        t0 = time.perf_counter()
        print(f"== {config or 'current settings'}")
        results[config] = {"sets": {}, "xquad": {}}
        for name, engine, questions in sets:
            report = evaluate(engine, questions)
            types = report["breakdowns"]["type"]
            m = metrics(report["summary"], types)
            results[config]["sets"][name] = {**m, "summary": report["summary"], "types": types, "questions": [
                {k: r.get(k) for k in ("id", "outcome", "key_fact_recall", "citation_recall", "quotes")}
                for r in report["questions"]]}
            print(row(name, report["summary"], types, report["questions"]) + f"  objective {m['objective']:.3f}",
                  flush=True)
        if not args.no_xquad:
            for q in ("en", "es"):
                r = squad_benchmark(XQUAD / f"xquad.{q}.json", XQUAD / "xquad.en.json", limit=args.xquad,
                                    retrieval=seeds.retrieval, writer_config=seeds.writer_config, policy=seeds.policy)
                results[config]["xquad"][f"{q}/en"] = {k: r[k] for k in (
                    "first_citation_gold", "answer_has_gold", "outcome_answered", "outcome_related",
                    "outcome_nothing", "quotes_per_answer")}
                print(f"  xquad {q}/en first citation {r['first_citation_gold']:.3f}  answer has gold "
                      f"{r['answer_has_gold']:.3f}  answered/related/nothing {r['outcome_answered']:.3f}/"
                      f"{r['outcome_related']:.3f}/{r['outcome_nothing']:.3f}  quotes {r['quotes_per_answer']:.2f}", flush=True)
        print(f"  ({time.perf_counter() - t0:.0f} s)")
        restore(saved, engines)

    table = None
    if collections:
        table = held_out_table({c: r["sets"] for c, r in results.items()}, collections)
        print(f"== held out by collection (chosen on the other {len(collections) - 1}; objective: eval/held_out.py)")
        for c in collections:
            print(f"  {c:<12} {table['chosen'][c] or 'current settings':<40} {format_metrics(table['held_out'][c])}")
        print(f"  {'mean':<12} {'held out':<40} {format_metrics(table['mean'])}")
        print(f"  {'mean':<12} {'current settings' if not args.configs[0] else args.configs[0]:<40} "
              f"{format_metrics(table['current_mean'])}")
    if args.json:
        import json

        args.json.write_text(json.dumps({"configs": args.configs, "sets": [n for n, _, _ in sets],
                                         "metrics": [k for k, _ in METRICS], "results": results,
                                         "held_out": table}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
