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
