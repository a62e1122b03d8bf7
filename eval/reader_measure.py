"""Measure the LLM reader (``--reader llm``, amqa.writers.reader) on an evaluation set, and what to show
when the LLM writer abstains while the extractive writer found a quote (issue 25, items 3 and 4).

    python eval/reader_measure.py reader --set eval/debian.jsonl --docs DIR --store STORE \\
        --base-url http://127.0.0.1:8089/v1 --model qwen1.5b --llm-record FILE [--passage quotes] [--json OUT]
    python eval/reader_measure.py abstentions --llm-run LLM.json --reader-run READER.json

``reader``: the extractive writer with the reader; prints near misses framed as answered before / after,
answerable questions moved to related, key facts before / after, the reader's seconds (live replies only:
a replayed one takes milliseconds, so run it once on a fresh record file for latency). ``abstentions``:
an LLM writer's run (``amqa eval --generator openai --json``) joined with a reader run on the same set:
for each question where the LLM abstained while the extractive writer found quotes, what each option
would show: nothing (today), the quotes as related passages, the extractive answer as it is (and then
read by the reader); near misses framed as answered, answerable ones answered, key facts for each.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from amqa.evaluation import evaluate, load_questions
from amqa.service.engine import Engine
from amqa.settings import Settings
from amqa.writers.reader import Passage, ReaderConfig, get_reader


def _engine(args: argparse.Namespace, **settings: object) -> Engine:
    base = Settings.from_env().replace(llm_record=args.llm_record, model=args.model, **settings)
    return Engine(args.docs, args.store, settings=base, progress=False)


def measure_reader(args: argparse.Namespace) -> dict:
    engine = _engine(args, generator="extractive", base_url=args.base_url, reader="llm",
                     reader_timeout=args.reader_timeout)
    # --reader-record: the reader's replies in a file of their own.
    engine.pipeline.reader = get_reader(engine.settings.replace(llm_record=args.reader_record),
                                        ReaderConfig(passage=Passage(args.passage)))
    report = evaluate(engine, load_questions(args.set))
    s = report["summary"]
    keys = ("questions", "answerable", "unanswerable", "reader_read", "reader_moved", "reader_unknown",
            "answerable_moved", "unanswerable_answered_before_reader", "unanswerable_answered",
            "key_fact_before_reader", "key_fact_recall", "read_p50_ms", "read_p95_ms")
    out = {k: s[k] for k in keys}
    out["moved_answerable_ids"] = [r["id"] for r in report["questions"] if r["answerable"] and r["reader"] == "does_not"]
    out["near_misses_kept_ids"] = [r["id"] for r in report["questions"]
                                   if not r["answerable"] and r["outcome"] == "answered"]
    out["read_seconds"] = [r["read_seconds"] for r in report["questions"] if r["read_seconds"] is not None]
    return {"summary": out, "questions": report["questions"]}


def measure_abstentions(args: argparse.Namespace) -> dict:
    """Join an LLM writer's run (``--llm-run``: the JSON of ``amqa eval --generator openai ... --json``)
    with a reader run of this script (``--reader-run``) on the same set, question by question."""
    text = args.llm_run.read_text(encoding="utf-8")
    runs = ([json.loads(line) for line in text.splitlines() if line.strip()] if args.llm_run.suffix == ".jsonl"
            else json.loads(text)["questions"])  # a JSONL dump of eval/llm_support.py (citer branch) too
    llm = {r["id"]: r for r in runs}
    read = {r["id"]: r for r in json.loads(args.reader_run.read_text(encoding="utf-8"))["questions"]}
    rows = []
    for qid, w in llm.items():
        e = read.get(qid)
        if e is None:
            continue
        before = "answered" if e["answered_before_reader"] else e["outcome"]
        rows.append({"id": qid, "answerable": e["answerable"], "llm": w["verification"],
                     "extractive": before, "reader": e["reader"], "after_reader": e["outcome"],
                     "key_facts": e.get("key_fact_before_reader"), "shown": e.get("key_fact_shown")})
    conflicts = [r for r in rows if r["llm"] == "abstained" and r["extractive"] != "nothing"]
    options = {}
    for name, shown in (("nothing", lambda r: "nothing"), ("related", lambda r: "related"),
                        ("as_is", lambda r: r["extractive"]), ("as_is_then_reader", lambda r: r["after_reader"])):
        ans = [r for r in conflicts if r["answerable"]]
        una = [r for r in conflicts if not r["answerable"]]
        options[name] = {
            "answerable": len(ans), "unanswerable": len(una),
            "answerable_answered": sum(shown(r) == "answered" for r in ans),
            "answerable_related": sum(shown(r) == "related" for r in ans),
            "near_misses_answered": sum(shown(r) == "answered" for r in una),
            "key_facts_answered": round(sum(r["key_facts"] for r in ans if shown(r) == "answered"), 2),
            "key_facts_shown": round(sum(r["shown"] for r in ans if shown(r) != "nothing"), 2),
        }
    return {"summary": {"questions": len(rows), "llm_abstained": sum(r["llm"] == "abstained" for r in rows),
                        "conflicts": len(conflicts), "options": options,
                        "conflict_ids": [r["id"] for r in conflicts]}, "questions": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("reader", "abstentions"))
    p.add_argument("--set")
    p.add_argument("--llm-run", type=Path, help="abstentions: an LLM writer's `amqa eval --json` file (or a JSONL "
                   "file of per-question records with id and verification)")
    p.add_argument("--reader-run", type=Path, help="abstentions: this script's `reader --json` file, same set")
    p.add_argument("--docs", type=Path)
    p.add_argument("--store", type=Path)
    p.add_argument("--base-url", default="http://127.0.0.1:8089/v1")
    p.add_argument("--model", default="qwen1.5b")
    p.add_argument("--llm-record", type=Path)
    p.add_argument("--reader-record", type=Path, help="reader: record its replies here, not in --llm-record")
    p.add_argument("--passage", default=Passage.QUOTES.value, choices=[x.value for x in Passage])
    p.add_argument("--reader-timeout", type=float, default=60.0, help="generous while measuring (default 60)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    out = measure_reader(args) if args.what == "reader" else measure_abstentions(args)
    print(json.dumps(out["summary"], indent=1, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
