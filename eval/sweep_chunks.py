"""Sweep chunk size/overlap on the evaluation set: python eval/sweep_chunks.py [SIZE:OVERLAP ...]"""
import sys
import tempfile

from amqa import ChunkSettings, Engine
from amqa.evaluation import evaluate, load_questions

settings = [tuple(map(int, a.split(":"))) for a in sys.argv[1:]] or [(300, 75), (450, 100), (600, 150), (900, 200), (1200, 300)]
questions = load_questions()
print(f"{'size':>5} {'overlap':>7} {'chunks':>6} {'recall@1':>8} {'recall@5':>8} {'cit.rec':>8} {'keyfact':>8} {'abstain':>8}")
for size, overlap in settings:
    with tempfile.TemporaryDirectory() as store:
        engine = Engine(store=store, chunking=ChunkSettings(size, overlap), progress=False)
        engine.index()
        s = evaluate(engine, questions)["summary"]
        n = len(engine.backend.chunks)
        print(f"{size:>5} {overlap:>7} {n:>6} {s['recall@1']:>8.3f} {s['recall@5']:>8.3f} {s['citation_recall']:>8.3f} "
              f"{s['key_fact_recall']:>8.3f} {s['abstain_recall']:>8.3f}", flush=True)
