"""The segmented store: adding a file writes one segment, removed files are dead rows never cited,
merges keep every answer, BM25 matches bm25s, a killed update leaves an index, old or damaged stores
say how to rebuild."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import amqa.index.local.segments as segments_mod
import amqa.index.local.store as store_mod
from amqa import Engine
from amqa.index.local.backend import LocalBackend, LocalConfig
from amqa.embedders import HashEmbedder
from amqa.errors import DamagedIndexError, IndexMismatchError
from amqa.retrieval.search import Searcher
from amqa.index.local.store import current_index_dir, load_index, read_manifest, update_index

QUESTIONS = ["Combien d'apprentis sont formés ?", "Where will the Moroccan campus open?",
             "Qui dirige l'école de Besançon ?", "campus de Metz", "ENSMM convention signée"]


def _hits(store, questions=QUESTIONS):
    emb = HashEmbedder()
    searcher = Searcher(LocalBackend(load_index(store, emb)), emb)
    return [[(h.chunk.id, round(h.score, 6), h.chunk.text) for h in searcher.search(q, k=5).hits] for q in questions]


def test_adding_a_file_writes_one_segment_and_rewrites_nothing(docs_copy, tmp_path):
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    (first,) = read_manifest(store).segments
    stamps = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (store / "segments" / first).iterdir()}
    (docs_copy / "new.txt").write_text("Le campus de Cluny ouvre une fonderie pédagogique en 2027.", encoding="utf-8")
    report = update_index(docs_copy, store, "hash")
    assert report.added == ["new.txt"] and report.embedded_texts == 2  # its one chunk and one sentence
    manifest = read_manifest(store)
    assert manifest.segments[0] == first and len(manifest.segments) == 2
    assert manifest.files["new.txt"].segment == manifest.segments[1]
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (store / "segments" / first).iterdir()}
    assert after == stamps, "the first segment's files are neither rewritten nor replaced"


def test_updates_in_segments_answer_as_a_fresh_build(docs_copy, tmp_path, monkeypatch):
    """Add, change and remove files one update at a time (segments, dead rows, then a merge); the
    hits and their scores are those of an index built from scratch on the final folder."""
    monkeypatch.setattr(store_mod, "DEAD_SHARE", 1.0)  # keep the dead rows for now
    store = tmp_path / "store"
    names = sorted(p.name for p in docs_copy.iterdir())
    keep = docs_copy.parent / "held"
    keep.mkdir()
    for name in names[3:]:
        shutil.move(docs_copy / name, keep / name)
    update_index(docs_copy, store, "hash")  # three files in the first segment
    for name in names[3:]:  # then one segment per file
        shutil.move(keep / name, docs_copy / name)
        update_index(docs_copy, store, "hash")
    changed = docs_copy / names[1]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nLe campus de Metz accueille 300 élèves.",
                       encoding="utf-8")
    (docs_copy / names[2]).unlink()
    update_index(docs_copy, store, "hash")
    index = load_index(store, HashEmbedder())
    assert len(index.segments) == 4 and index.chunk_rows.dead[0] is not None  # two files' rows dead in the first
    assert index.chunk_rows.dead[0].sum() == index.segments[0].n_chunks - len(
        [c for c in index.chunks if c.source == names[0]])
    assert {c.source for c in index.chunks} == set(names) - {names[2]}
    assert len(index.chunks) == index.chunk_vectors.shape[0] == read_manifest(store).counts.chunks

    fresh = tmp_path / "fresh"
    update_index(docs_copy, fresh, "hash")
    assert _hits(store) == _hits(fresh)

    # Many small segments are merged into one (the largest left alone), with the same answers; a
    # mostly dead segment is rewritten.
    monkeypatch.undo()
    merged = 0
    for i in range(store_mod.MERGE_FACTOR + 1):  # one-chunk files, one segment each: the smallest tier
        (docs_copy / f"extra{i}.txt").write_text(f"Note {i} sur les ateliers de fonderie de Cluny.", encoding="utf-8")
        merged += update_index(docs_copy, store, "hash").merged_segments
    assert merged > store_mod.MERGE_FACTOR and len(read_manifest(store).segments) <= store_mod.MERGE_FACTOR
    for i in range(store_mod.MERGE_FACTOR + 1):
        (docs_copy / f"extra{i}.txt").unlink()
    update_index(docs_copy, store, "hash")
    assert _hits(store) == _hits(fresh)
    assert len(list((store / "segments").iterdir())) <= 4 * store_mod.MERGE_FACTOR, "unused segments are removed"


def test_lexical_scores_are_bm25s_scores(hash_store):
    import bm25s

    from amqa.text import tokenize

    index = load_index(hash_store, HashEmbedder())
    lexicon = LocalBackend(index).lexicon
    chunks = list(index.chunks)
    reference = bm25s.BM25()
    reference.index([tokenize(c.text, c.language) or [""] for c in chunks], show_progress=False)
    for question in QUESTIONS + ["apprentis apprentis Métiers", "robot"]:
        tokens = lexicon.known(tokenize(question, "fr"))
        if tokens:
            assert np.allclose(lexicon.scores(tokens), reference.get_scores(tokens), rtol=1e-5, atol=1e-6)
    assert lexicon.known(["zzzz"]) == []


def test_bm25_top_skips_common_words_and_ranks_as_scoring_every_chunk(tmp_path, monkeypatch):
    """MaxScore: a word in many chunks is only scored where it can change the n best, and the n best
    are exactly those of scoring every chunk, ties and float32 sums included, dead rows left out."""
    import amqa.index.local.backend as corpus_mod
    from amqa.index.local.backend import top_rows

    rng = np.random.default_rng(3)
    words = [f"mot{i}" for i in range(60)]
    p = 1 / np.arange(1, 61) ** 1.1  # Zipf: the first words are in most chunks, the last in few
    docs = tmp_path / "docs"
    docs.mkdir()

    def write(i: int) -> None:
        paras = [" ".join(rng.choice(words, size=40, p=p / p.sum())) + "." for _ in range(3)]
        (docs / f"f{i:02d}.txt").write_text("\n\n".join(paras), encoding="utf-8")

    for i in range(30):
        write(i)
    store = tmp_path / "store"
    update_index(docs, store, "hash")
    for i in range(30, 45):  # a second segment, and dead rows in the first
        write(i)
    (docs / "f03.txt").unlink()
    update_index(docs, store, "hash")
    lexicon = LocalBackend(load_index(store, HashEmbedder())).lexicon
    assert any(d is not None for d in lexicon._index.chunk_rows.dead)
    monkeypatch.setattr(corpus_mod, "LAZY_POSTINGS", 40)
    lazy_answers = 0
    real = corpus_mod.maxscore_top

    def counted(*args):
        nonlocal lazy_answers
        found = real(*args)
        lazy_answers += found is not None
        return found

    monkeypatch.setattr(corpus_mod, "maxscore_top", counted)
    for _ in range(200):
        tokens = list(rng.choice(words, size=int(rng.integers(2, 7)), p=p / p.sum()))
        tokens = lexicon.known(tokens)
        for n in (5, 20):
            scores = lexicon.scores(tokens)
            want = top_rows(scores, n)
            rows, values = lexicon.top(tokens, n)
            assert rows.tolist() == want.tolist() and values.tolist() == scores[want].tolist()
    assert lazy_answers > 50, "the lazy path answered too rarely to be tested"


def test_a_removed_file_is_never_cited(docs_copy, tmp_path):
    (docs_copy / "cluny.txt").write_text("Le laboratoire de Cluny étudie les alliages légers depuis 1901.",
                                         encoding="utf-8")
    engine = Engine(docs_copy, tmp_path / "store", "hash", progress=False)
    question = "Que étudie le laboratoire de Cluny depuis 1901 ?"
    assert engine.answer(question).citations[0].source == "cluny.txt"
    (docs_copy / "cluny.txt").unlink()
    answer = engine.answer(question)  # the engine catches up before answering
    assert "cluny.txt" not in {c.source for c in answer.citations} | {h.chunk.source for h in answer.hits}
    # Its rows are still in their segment, dead: not searched, not counted by BM25.
    assert engine.backend.lexicon.df("cluni") == 0 and "cluny.txt" not in engine.manifest.files
    assert all(c.source != "cluny.txt" for c in engine.backend.chunks)


def test_the_engine_applies_an_update_in_place(docs_copy, tmp_path):
    engine = Engine(docs_copy, tmp_path / "store", "hash", progress=False)
    engine.warm_up()
    segments = list(engine.backend.index.segments)
    (docs_copy / "cluny.txt").write_text("Le laboratoire de Cluny étudie les alliages légers.", encoding="utf-8")
    engine.answer("Que étudie le laboratoire de Cluny ?")
    now = engine.backend.index.segments
    assert now[0] is segments[0] and len(now) == 2, "the loaded segment is kept, only the new one is opened"


def test_approximate_search_in_a_large_segment(docs_copy, tmp_path, monkeypatch):
    """Above the threshold a segment gets a PQ fast-scan index and 8-bit codes; it finds what exact
    search finds, and never a dead row."""
    monkeypatch.setattr(segments_mod, "ANN_THRESHOLD", 20)
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    (seg,) = load_index(store, HashEmbedder()).segments
    assert seg.ann == {"chunks", "sentences"} and seg.format == 2
    assert (seg.folder / "sentences.pq").is_file() and (seg.folder / "sentences.sq8.npy").is_file()
    assert (seg.folder / "chunks.sq8.npy").is_file() and not list(seg.folder.glob("*.ivf"))
    exact = segments_mod.VectorSearch(seg.sentence_vectors, None)
    emb = HashEmbedder()
    found = 0
    for q in QUESTIONS:
        v = emb.embed([q], "query")[0]
        a, _ = exact.search(v, 10)
        b, _ = seg.searcher("sentences").search(v, 10)
        found += len(set(a.tolist()) & set(b.tolist()))
    assert found >= 0.9 * 10 * len(QUESTIONS)
    dead = np.zeros(seg.n_sentences, dtype=bool)
    dead[::2] = True
    rows, _ = seg.searcher("sentences").search(emb.embed(["campus"], "query")[0], 20, dead)
    assert len(rows) and not dead[rows].any()
    # Chunk candidates are rescored on their 8-bit codes: near the exact similarities.
    v = emb.embed([QUESTIONS[1]], "query")[0]
    rows, sims = seg.searcher("chunks").search(v, 10)
    np.testing.assert_allclose(sims, seg.chunk_vectors[rows] @ v, atol=0.02)
    exact_rows, _ = segments_mod.VectorSearch(seg.chunk_vectors, None).search(v, 10)
    assert set(rows.tolist()) == set(exact_rows.tolist())  # the pool (20 x 10) holds every chunk here
    # A segment written before chunk codes rescores chunks on their float32 vectors: exact.
    del seg
    folder = load_index(store, HashEmbedder()).segments[0].folder
    _drop_chunk_codes(folder)
    (seg,) = load_index(store, HashEmbedder()).segments
    assert "chunks" not in seg._sq8 and "sentences" in seg._sq8
    rows, sims = seg.searcher("chunks").search(v, 10)
    np.testing.assert_allclose(sims, seg.chunk_vectors[rows] @ v, rtol=1e-6)
    assert set(rows.tolist()) == set(exact_rows.tolist())


def test_searches_on_two_threads_find_what_one_thread_finds(docs_copy, tmp_path, monkeypatch):
    """The approximate searches of several large segments run on a thread pool; the candidates and the
    hits are those of the same searches one after the other."""
    import amqa.index.local.backend as corpus_mod

    monkeypatch.setattr(segments_mod, "ANN_THRESHOLD", 20)
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    (docs_copy / "forge.txt").write_text(" ".join(f"La forge numéro {i} de Cluny coule {i * 7} pièces par jour."
                                                  for i in range(40)), encoding="utf-8")
    update_index(docs_copy, store, "hash")
    index = load_index(store, HashEmbedder())
    assert sum(len(seg.ann) for seg in index.segments) >= 3
    calls = []
    real = corpus_mod._search_pool
    monkeypatch.setattr(corpus_mod, "_search_pool", lambda threads: calls.append(threads) or real(threads))
    emb = HashEmbedder()
    questions = QUESTIONS + ["Combien de pièces coule la forge numéro 12 ?"]
    runs = {}
    for threads in (2, 1):
        searcher = Searcher(LocalBackend(index, LocalConfig(search_threads=threads)), emb)
        runs[threads] = [(searcher.backend.candidates(emb.embed([q], "query")[0], 100).tolist(),
                          [(h.chunk.id, h.score) for h in searcher.search(q, k=5).hits]) for q in questions]
        if threads == 2:
            assert calls == [2] * len(calls) and calls, "the large segments' searches went to the pool"
    assert runs[2] == runs[1]


def _drop_chunk_codes(folder: Path) -> None:
    """Make a format-2 segment as it was written before chunk vectors got 8-bit codes."""
    info = json.loads((folder / "segment.json").read_text(encoding="utf-8"))
    for name in ("chunks.sq8.npy", "chunks.sq8range.npy"):
        (folder / name).unlink()
        del info["sizes"][name]
    (folder / "segment.json").write_text(json.dumps(info), encoding="utf-8")


def _as_format_1(folder: Path) -> None:
    """Rewrite a format-2 segment with an approximate index as format 1 wrote it: IVF indexes, no PQ."""
    info = json.loads((folder / "segment.json").read_text(encoding="utf-8"))
    for kind in info["ann"]:
        segments_mod.write_ivf(folder / f"{kind}.ivf", np.load(folder / f"{kind}.npy"))
        (folder / f"{kind}.pq").unlink()
    for name in ("sentences.sq8.npy", "sentences.sq8range.npy", "chunks.sq8.npy", "chunks.sq8range.npy"):
        (folder / name).unlink()
    info["format"] = 1
    info["sizes"] = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.name != "segment.json"}
    (folder / "segment.json").write_text(json.dumps(info), encoding="utf-8")


def test_a_format_1_segment_is_still_searched_through_its_ivf_index(docs_copy, tmp_path, monkeypatch):
    """Stores written before format 2 load and answer as they did: their IVF indexes are searched."""
    monkeypatch.setattr(segments_mod, "ANN_THRESHOLD", 20)
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    before = _hits(store)
    (seg,) = load_index(store, HashEmbedder()).segments
    _as_format_1(seg.folder)
    del seg
    (seg,) = load_index(store, HashEmbedder()).segments
    assert seg.format == 1 and seg.ann == {"chunks", "sentences"}
    assert seg.searcher("sentences")._ivf is not None and seg.searcher("chunks")._ivf is not None
    after = _hits(store)
    assert [h[0][0] for h in after] == [h[0][0] for h in before]  # the same first hit for every question
    engine = Engine(docs_copy, store, "hash", progress=False)
    assert engine.answer(QUESTIONS[1]).citations


def test_a_segment_of_an_unknown_format_is_refused_with_the_rebuild_command(docs_copy, tmp_path):
    """An index written by a newer amqa (a segment format this one does not read) says how to rebuild."""
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    (sid,) = read_manifest(store).segments
    info_path = store / "segments" / sid / "segment.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info_path.write_text(json.dumps({**info, "format": 3}), encoding="utf-8")
    with pytest.raises(DamagedIndexError, match="format 3.*--rebuild"):
        load_index(store, HashEmbedder())


KILLER = r"""
import sys
from pathlib import Path
from amqa.index.local.store import update_index
docs, store = Path(sys.argv[1]), Path(sys.argv[2])
for i in range(1000):
    for j in range(20):
        (docs / f"gen{i}_{j}.txt").write_text(f"Le document {i} {j} parle de fonderie et d'usinage. " * 40, encoding="utf-8")
    update_index(docs, store, "hash")
    print(i, flush=True)
"""


def test_kill_during_updates_leaves_a_whole_index(docs_copy, tmp_path):
    """kill -9 at random moments of a stream of updates: each time the store loads, consistent (the
    manifest's files are exactly the chunks' sources), and the next update completes."""
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    rng = np.random.default_rng(7)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", KILLER, str(docs_copy), str(store)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        proc.stdout.readline()  # one update done: the interpreter is up and writing
        time.sleep(float(rng.uniform(0.0, 0.4)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        index = load_index(store, HashEmbedder())
        assert index is not None
        sources = {c.source for c in index.chunks}
        odd = set(index.files) ^ sources
        assert not odd, ("old or new, never a mix", {x: index.files.get(x) for x in odd}, index.manifest.segments,
                         {seg.id: [s for s in seg.sources if s in odd] for seg in index.segments})
    final = update_index(docs_copy, store, "hash")
    # Every file is indexed, or skipped: the one a kill left half-written may be empty.
    assert set(final.index.files) | {s.source for s in final.skipped} == {p.name for p in docs_copy.iterdir()}
    assert all(s.reason.startswith("no text") for s in final.skipped)
    assert not list(store.glob("*.tmp")) and not list((store / "segments").glob("*.tmp"))


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "amqa.frontends.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_an_old_format_store_is_refused_with_the_rebuild_command(docs_copy, tmp_path):
    store = tmp_path / "store"
    old = store / "index-20250101T000000-abcdef"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text(json.dumps({"format_version": 1, "files": {}}), encoding="utf-8")
    (old / "chunks.jsonl").write_text("", encoding="utf-8")
    (store / "CURRENT").write_text(old.name + "\n", encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="format version 1.*--rebuild"):
        load_index(store, HashEmbedder())
    run = _cli("ask", "campus ?", "--docs", str(docs_copy), "--store", str(store), "--embedder", "hash")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1 and "amqa index --store" in run.stderr and "--rebuild" in run.stderr
    run = _cli("index", "--docs", str(docs_copy), "--store", str(store), "--embedder", "hash", "--rebuild")
    assert run.returncode == 0, run.stderr
    assert load_index(store, HashEmbedder()) is not None


@pytest.mark.parametrize("damage", ["segment file", "manifest"])
def test_a_damaged_store_gives_the_rebuild_message(docs_copy, tmp_path, damage):
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    if damage == "segment file":
        seg = store / "segments" / read_manifest(store).segments[0]
        (seg / "chunk_meta.npy").write_bytes(b"\x93NUMPY garbage")
    else:
        (current_index_dir(store) / "manifest.json").write_text('{"files": ', encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="damaged.*--rebuild"):
        load_index(store, HashEmbedder())
    run = _cli("ask", "campus ?", "--docs", str(docs_copy), "--store", str(store), "--embedder", "hash")
    assert run.returncode == 1 and "Traceback" not in run.stderr and "--rebuild" in run.stderr, run.stderr


def test_a_large_update_is_written_and_published_in_batches(docs_copy, tmp_path, monkeypatch):
    """Every SEGMENT_CHUNKS chunks a segment is written and the index switched to it (searchable at
    once); the result answers as one segment would."""
    one = tmp_path / "one"
    update_index(docs_copy, one, "hash")
    monkeypatch.setattr(store_mod, "SEGMENT_CHUNKS", 5)
    monkeypatch.setattr(store_mod, "FIRST_SEGMENT_CHUNKS", 2)
    published = []
    real = store_mod._write_manifest
    monkeypatch.setattr(store_mod, "_write_manifest", lambda store, data: (published.append(
        len(data.chunk_rows)), real(store, data)))
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    assert len(published) >= 3 and published == sorted(published), "searchable after each batch, growing"
    assert len(read_manifest(store).segments) >= 3
    assert _hits(store) == _hits(one)


def test_a_large_folder_is_checked_less_often_but_a_gone_file_is_never_cited(docs_copy, tmp_path):
    from amqa.service.keeper import KeeperConfig

    # every check counts as costly, and is not due again
    costly = KeeperConfig(check_always_below=0.0, check_spacing=1e9)
    (docs_copy / "cluny.txt").write_text("Le laboratoire de Cluny étudie les alliages légers depuis 1901.",
                                         encoding="utf-8")
    engine = Engine(docs_copy, tmp_path / "store", "hash", progress=False, keeper=costly)
    question = "Que étudie le laboratoire de Cluny depuis 1901 ?"
    assert engine.answer(question).citations[0].source == "cluny.txt"
    engine.answer(question)  # a check ran: the next is not due
    (docs_copy / "cluny.txt").unlink()
    answer = engine.answer(question)
    assert "cluny.txt" not in {c.source for c in answer.citations} | {h.chunk.source for h in answer.hits}
    assert "cluny.txt" not in engine.manifest.files


def test_questions_run_numpy_blas_on_one_thread(hash_engine, monkeypatch):
    """While a question is searched and answered, numpy's BLAS runs on one thread (a second one only
    waits for a busy core: 16 ms instead of 0.06 ms for one product); after it, the limit is back."""
    from threadpoolctl import ThreadpoolController

    def numpy_blas_threads() -> list[int]:  # numpy's own OpenBLAS (a wheel's: in numpy.libs)
        return [lib.num_threads for lib in ThreadpoolController().select(user_api="blas").lib_controllers
                if "numpy" in lib.filepath]

    before = numpy_blas_threads()
    seen: list[list[int]] = []
    real = LocalBackend.dense_parts

    def spy(self, vector, rows):
        seen.append(numpy_blas_threads())
        return real(self, vector, rows)

    monkeypatch.setattr(LocalBackend, "dense_parts", spy)
    hash_engine.answer("Combien d'apprentis sont formés ?")
    assert seen and all(threads == [1] for threads in seen)
    assert numpy_blas_threads() == before


def test_a_large_segment_scans_a_quarter_of_its_lists(tmp_path):
    """recall@10 >= 0.98 against exact search took a quarter of the IVF lists on the benchmark's
    vectors (amqa.index.local.segments): a search scans that many, with no cap (128 lists gave 0.92-0.94)."""
    import faiss

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((20_000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    segments_mod.write_ivf(tmp_path / "v.ivf", vectors)
    nlist = faiss.extract_index_ivf(faiss.read_index(str(tmp_path / "v.ivf"))).nlist
    assert nlist // 4 > 128
    search = segments_mod.VectorSearch(None, tmp_path / "v.ivf")
    faiss.cvar.indexIVF_stats.reset()
    rows, _ = search.search(vectors[7], 10)
    assert 7 in rows.tolist()
    assert faiss.cvar.indexIVF_stats.nlist == nlist // 4


def test_chunk_vectors_are_held_sentence_vectors_of_a_large_segment_read_by_rows(docs_copy, tmp_path, monkeypatch):
    """A question's 200-300 candidate chunks need their vectors: they are held (memory-mapped),
    not read one scattered row at a time (5 ms of an answer at 100k chunks under load); the sentence
    vectors of a segment with an IVF index (6-7 per chunk) stay on disk, read by rows."""
    monkeypatch.setattr(segments_mod, "ANN_THRESHOLD", 20)
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    engine = Engine(docs_copy, store, "hash", progress=False)
    first = engine.answer(QUESTIONS[0])
    reads: dict[str, list[int]] = {"chunks": [], "sentences": []}
    for seg in engine.backend.index.segments:
        assert seg.ann == {"chunks", "sentences"} and seg.held_vectors("sentences") is None
        for kind, reader in seg.readers.items():
            real = reader.take
            monkeypatch.setattr(reader, "take", lambda rows, real=real, kind=kind: reads[kind].append(len(rows))
                                or real(rows))
    again = engine.answer(QUESTIONS[0])
    assert [c.text for c in again.citations] == [c.text for c in first.citations]
    assert reads["chunks"] == [] and reads["sentences"]
