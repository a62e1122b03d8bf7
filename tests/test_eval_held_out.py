"""The leave-one-collection-out selection of eval/held_out.py (used by eval/tune_writer.py), on made-up scores."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
from held_out import choose, held_out_table, metrics, objective  # noqa: E402

COLLECTIONS = ["a", "b", "c", "d"]


def scores(**by_config):
    """``config=(score_a, score_b, score_c, score_d)`` -> objectives[config][collection]."""
    return {config: dict(zip(COLLECTIONS, values)) for config, values in by_config.items()}


def test_each_collection_is_chosen_for_on_the_others_only():
    # "spiky" wins only on a: chosen for b, c, d (its mean over them includes a) but not for a itself,
    # whose choice is made on b, c, d where "steady" is better.
    objectives = scores(current=(1.0, 1.0, 1.0, 1.0), spiky=(9.0, 0.9, 0.9, 0.9), steady=(0.0, 1.1, 1.1, 1.1))
    chosen = choose(objectives, COLLECTIONS)
    assert chosen == {"a": "steady", "b": "spiky", "c": "spiky", "d": "spiky"}


def test_a_tie_keeps_the_first_configuration():
    objectives = scores(current=(1.0, 2.0, 1.0, 2.0), same=(1.0, 2.0, 1.0, 2.0), worse=(0.5, 2.0, 1.0, 2.0))
    assert set(choose(objectives, COLLECTIONS).values()) == {"current"}
    reordered = {k: objectives[k] for k in ("same", "current", "worse")}
    assert set(choose(reordered, COLLECTIONS).values()) == {"same"}


def test_the_held_out_mean_is_the_left_out_collections_own_scores_under_their_choice():
    def m(value):
        return {"key_facts": value, "shown": value, "right_source": 1.0, "answerable_nothing": 0.0,
                "near_miss_answered": 0.5, "off_topic_answered": 0.0, "objective": value}
    per_config = {"": {c: m(1.0) for c in COLLECTIONS},
                  "x=1": {"a": m(0.2), "b": m(3.0), "c": m(3.0), "d": m(0.4)}}
    table = held_out_table(per_config, COLLECTIONS)
    # a: others b, c, d: x=1 mean 2.13 > 1.0; d likewise; b: others a, c, d: 1.2 > 1.0; c: the same.
    assert table["chosen"] == {"a": "x=1", "b": "x=1", "c": "x=1", "d": "x=1"}
    assert table["mean"]["key_facts"] == pytest.approx((0.2 + 3.0 + 3.0 + 0.4) / 4)
    assert table["current_mean"]["key_facts"] == pytest.approx(1.0)
    per_config["x=1"]["c"] = m(0.1)  # a's others now give (3 + 0.1 + 0.4) / 3 = 1.17 > 1: still x=1;
    table = held_out_table(per_config, COLLECTIONS)  # b's give (0.2 + 0.1 + 0.4) / 3 < 1: the current
    assert table["chosen"] == {"a": "x=1", "b": "", "c": "x=1", "d": "x=1"}
    assert table["held_out"]["b"]["key_facts"] == 1.0 and table["held_out"]["c"]["key_facts"] == 0.1
    assert table["mean"]["key_facts"] == pytest.approx((0.2 + 1.0 + 0.1 + 0.4) / 4)


def test_the_objective_penalises_nothing_found_four_times_and_near_misses_once():
    summary = {"key_fact_recall": 0.8, "key_fact_shown": 0.9, "citation_recall": 0.9, "answerable_nothing": 0.0}
    types = {"unanswerable": {"unanswerable_answered": 0.5}, "off-topic": {"unanswerable_answered": 1.0}}
    base = metrics(summary, types)
    assert base["objective"] == pytest.approx(0.8 + 0.9 + 0.5)
    assert base["off_topic_answered"] == 1.0
    worse = metrics({**summary, "answerable_nothing": 0.1}, types)
    assert base["objective"] - worse["objective"] == pytest.approx(0.4)
    framed = metrics(summary, {"unanswerable": {"unanswerable_answered": 1.0}})
    assert base["objective"] - framed["objective"] == pytest.approx(0.5)
    assert objective({**base, "near_miss_answered": 0.0}) > objective(base)
