"""Leave-one-collection-out selection: the objective each set is scored by, and the held-out choice.

    from held_out import objective, choose, held_out_table
    objective(report["summary"], report["breakdowns"]["type"])      # one set's scalar score
    choose({"": {"python": 2.1, ...}, "writer.x=1": {...}}, ["debian", "python", ...])

eval/tune_writer.py calls these after measuring every configuration on every set. A configuration
is chosen for collection C on the OTHER collections only (the best mean objective over them; ties go
to the first listed, i.e. the current settings when they are listed first) and C's metrics under it
are its held-out score: the mean of those over the collections is the number issue 24 judges by.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

#: Weight of "answerable question given nothing found" in :func:`objective`: an answer the user never
#: sees costs four times a missed key fact (issue 24's acceptance allows at most 3% of them).
NOTHING_WEIGHT = 4.0

#: The metrics the held-out table prints and averages, in order: (key, heading).
METRICS = (("key_facts", "keyfacts"), ("shown", "shown"), ("right_source", "cit.rec"),
           ("answerable_nothing", "ans->nothing"), ("near_miss_answered", "near-miss ans"),
           ("off_topic_answered", "off-topic ans"), ("objective", "objective"))


def metrics(summary: Mapping, types: Mapping) -> dict[str, float]:
    """The held-out metrics of one evaluation (``report["summary"]``, ``report["breakdowns"]["type"]``):
    key facts in answered text, key facts shown (answered or related), citation recall (right source),
    answerable given "nothing found", near misses (type ``unanswerable``) and off-topic questions framed
    as answered (0.0 when the set has none), and :func:`objective`."""
    out = {"key_facts": float(summary["key_fact_recall"]), "shown": float(summary["key_fact_shown"]),
           "right_source": float(summary["citation_recall"]),
           "answerable_nothing": float(summary["answerable_nothing"]),
           "near_miss_answered": float(types.get("unanswerable", {}).get("unanswerable_answered", 0.0)),
           "off_topic_answered": float(types.get("off-topic", {}).get("unanswerable_answered", 0.0))}
    out["objective"] = objective(out)
    return out


def objective(m: Mapping[str, float]) -> float:
    """One set's scalar score, higher is better, from issue 24's acceptance (range -4 to 3)::

        key_facts + right_source + (1 - near_miss_answered) - 4 * answerable_nothing

    key facts in the answer and the right source cited count one each; a near miss framed as answered
    costs one (answered near misses / near misses); an answerable question given "nothing found" costs
    four (:data:`NOTHING_WEIGHT`). Off-topic answers are printed, not scored (a set with no near miss
    scores its term 1)."""
    return (m["key_facts"] + m["right_source"] + (1.0 - m["near_miss_answered"])
            - NOTHING_WEIGHT * m["answerable_nothing"])


def choose(objectives: Mapping[str, Mapping[str, float]], collections: Sequence[str]) -> dict[str, str]:
    """For each collection C, the configuration with the best mean objective over the other
    collections (``objectives[config][collection]``; configurations in the mapping's order, ties to
    the first). With one collection there is nothing to hold out from: the first configuration."""
    configs = list(objectives)
    if not configs:
        raise ValueError("no configuration to choose from")
    chosen = {}
    for held in collections:
        others = [c for c in collections if c != held]
        best, best_score = configs[0], float("-inf")
        for config in configs:
            score = sum(objectives[config][c] for c in others) / len(others) if others else 0.0
            if score > best_score + 1e-12:  # strictly better: ties keep the earlier configuration
                best, best_score = config, score
        chosen[held] = best
    return chosen


def held_out_table(per_config: Mapping[str, Mapping[str, Mapping[str, float]]],
                   collections: Sequence[str]) -> dict:
    """``per_config[config][collection]``: :func:`metrics`. Returns ``{"chosen": {C: config},
    "held_out": {C: C's metrics under its choice}, "mean": the mean of those, "current": {C: metrics
    under the first configuration}, "current_mean": ...}``."""
    objectives = {config: {c: sets[c]["objective"] for c in collections} for config, sets in per_config.items()}
    chosen = choose(objectives, collections)
    first = next(iter(per_config))
    held = {c: dict(per_config[chosen[c]][c]) for c in collections}
    current = {c: dict(per_config[first][c]) for c in collections}
    return {"chosen": chosen, "held_out": held, "mean": mean(held.values()),
            "current": current, "current_mean": mean(current.values())}


def mean(rows) -> dict[str, float]:
    rows = list(rows)
    return {key: sum(r[key] for r in rows) / len(rows) for key, _ in METRICS} if rows else {}


def format_metrics(m: Mapping[str, float]) -> str:
    return "  ".join(f"{heading} {m[key]:.3f}" for key, heading in METRICS)
