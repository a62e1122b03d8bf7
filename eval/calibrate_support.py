"""Calibrate the LLM verifier on the evaluation set: python eval/calibrate_support.py

Each answerable question's short gold answer plays an LLM sentence. Against its gold source it should
count as supported; against the other sources, not. Prints the best-sentence similarity and the word
overlap for both, and how the thresholds in amqa.writers.llm.verification split them.
"""
import numpy as np

from amqa import Engine
from amqa.evaluation import load_questions
from amqa.text import tokenize

engine = Engine(progress=False)
corpus, verifier = engine.backend, engine.verifier
pos, neg = [], []
for q in load_questions():
    if not q["answerable"] or not q["answer"]:
        continue
    claim = q["answer"]
    qv = engine.embedder.embed([claim], "query")[0]
    tokens = set(tokenize(claim, q["language"]))
    for source in {c.source for c in corpus.chunks}:
        best = (0.0, 0.0)
        chunks = [c for c in corpus.chunks if c.source == source]
        held = corpus.sentences([corpus.position(c.id) for c in chunks])
        verdict = verifier.support(claim, list(zip(chunks, held)), q["language"]) is not None
        for c in chunks:
            match = corpus.sentences_table.best_in_chunk(corpus.position(c.id), qv)
            dense = match.similarity if match else 0.0
            lexical = len(tokens & set(tokenize(c.text, c.language))) / len(tokens) if tokens else 0.0
            best = max(best, (dense, lexical))
        (pos if source in q["sources"] else neg).append(best + (float(verdict),))
pos, neg = np.array(pos), np.array(neg)
print(f"gold pairs: {len(pos)}, dense p10/p50 {np.percentile(pos[:, 0], 10):.3f}/{np.percentile(pos[:, 0], 50):.3f}; "
      f"supported by Verifier.support: {pos[:, 2].mean():.3f}")
print(f"other pairs: {len(neg)}, dense p50/p90 {np.percentile(neg[:, 0], 50):.3f}/{np.percentile(neg[:, 0], 90):.3f}; "
      f"supported by Verifier.support: {neg[:, 2].mean():.3f}")
print("threshold grid (without the number rule):")
for d in (0.84, 0.85, 0.86, 0.87, 0.88, 0.90):
    for lx in (0.5, 0.6, 0.7):
        tp = ((pos[:, 0] >= d) | (pos[:, 1] >= lx)).mean()
        fp = ((neg[:, 0] >= d) | (neg[:, 1] >= lx)).mean()
        print(f"  dense {d:.2f} lexical {lx:.1f}: gold supported {tp:.3f}, other supported {fp:.3f}")
