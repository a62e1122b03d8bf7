"""The offline answer writer: extractive and grounded, no LLM.

From the retrieved chunks it picks the one to three sentences that best answer the question and
quotes them, each followed by its ``[n]`` marker. Nothing is paraphrased, so nothing is invented;
only the framing words are amqa's, in the question's language. When the best evidence is too weak,
it abstains and cites nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from typing import Mapping

from .corpus import Corpus
from .policy import AnswerPolicy
from .text import normalize
from .types import Answer, Citation, SearchResult

# Sentence scoring and abstention, calibrated on eval/questions.jsonl and XQuAD (eval/README.md,
# "Tuning"). A sentence's score is its cosine similarity to the question, plus a little for the
# question's rare words it contains (LEXICAL_WEIGHT), plus ANSWER_TYPE_BONUS when the question asks for
# a date, a quantity, a person or a place and the sentence holds one (answer typing, as in classic
# factoid QA), minus HEADLINE_PENALTY for a short line without final punctuation (a title, not a fact).
LEXICAL_WEIGHT = 0.10
ANSWER_TYPE_BONUS = 0.02
HEADLINE_PENALTY = 0.06
# More sentences are quoted when they score nearly as well as the best one: within
# SAME_SOURCE_MARGIN from the best sentence's file (retrieval finds the right passage far more often
# than sentence scoring finds the right sentence in it), within SECOND_SENTENCE_MARGIN from others.
SECOND_SENTENCE_MARGIN = 0.03
SAME_SOURCE_MARGIN = 0.06
MAX_SENTENCES = 3
SEARCH_DEPTH = 4  # sentences are taken from this many top hits
# Abstention: the AnswerPolicy's `abstain_below` and `abstain_unmatched_below` (model-specific scales).

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|"
           "décembre|decembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|"
           "noviembre|diciembre|januar|februar|märz|juni|juli|oktober|dezember")
_PLACE_NOUNS = "city|town|country|region|ville|pays|région|ciudad|país|región|stadt|land"
# (what the question asks for, how a sentence shows it holds one); French, English, Spanish, German.
ANSWER_TYPES: dict[str, tuple[re.Pattern, re.Pattern]] = {
    "date": (
        re.compile(r"\b(when|what year|which year|what date|since when|quand|depuis quand|en quelle année|"
                   r"à quelle date|quel jour|cuándo|en qué año|desde cuándo|wann|in welchem jahr|seit wann)\b",
                   re.IGNORECASE),
        re.compile(rf"\b(1[5-9]\d\d|20\d\d|{_MONTHS})\b", re.IGNORECASE),
    ),
    "quantity": (
        re.compile(r"\b(how many|how much|combien|quel(?:le)? est le (?:montant|budget|nombre)|"
                   r"what is the (?:amount|budget|number)|cuánt[oa]s?|wie viele?)\b", re.IGNORECASE),
        re.compile(r"\d"),
    ),
    "person": (
        re.compile(r"^\s*(who|qui|quién|wer)\b|\b(who|qui) (is|est|dirige|a sign)", re.IGNORECASE),
        re.compile(r"\b[A-Z][a-zà-ÿ]+(?: [A-Z][a-zà-ÿ]+){1,2}\b"),
    ),
    "place": (
        re.compile(rf"^\s*(where|où|dónde|wo)\b|\b(in which|in what|dans quel(?:le)?|en qué|in welche[rm]?)(?: \w+)? "
                   rf"({_PLACE_NOUNS})\b", re.IGNORECASE),
        re.compile(r"\b(in|at|near|à|au|aux|dans|en|bei|im)\s+(?:the |la |le |l[’']|el )?[A-ZÀ-Ý][\w-]+"),
    ),
}
_ENDS_SENTENCE = re.compile(r"[.!?…»”\"]$")
_LIST_ITEM = re.compile(r"^\s*(?:[-–•*]|\d+[.)])\s")


def expected_answer_type(question: str) -> str | None:
    """``"date"``, ``"quantity"``, ``"person"``, ``"place"`` or None, from the question's wording.

    >>> expected_answer_type("Quand l'antenne a-t-elle été inaugurée ?")
    'date'
    """
    for name, (asks, _) in ANSWER_TYPES.items():
        if asks.search(question):
            return name
    return None


def holds_answer_type(text: str, answer_type: str | None) -> bool:
    """Whether a sentence holds something of the type (its first word skipped for names: capitalised)."""
    if answer_type is None:
        return False
    return bool(ANSWER_TYPES[answer_type][1].search(text[1:] if answer_type == "person" else text))


def is_headline(text: str) -> bool:
    """A short line without final punctuation that is not a list item: a title, not a fact."""
    return len(text) < 70 and not _ENDS_SENTENCE.search(text) and not _LIST_ITEM.match(text)


FRAMES = {
    "en": ("According to the documents:", "The documents do not contain an answer to this question."),
    "fr": ("D'après les documents :", "Les documents ne contiennent pas de réponse à cette question."),
    "es": ("Según los documentos:", "Los documentos no contienen una respuesta a esta pregunta."),
    "de": ("Laut den Dokumenten:", "Die Dokumente enthalten keine Antwort auf diese Frage."),
}
QUOTES = {"fr": ("« ", " »"), "de": ("„", "“"), "es": ("«", "»")}


@dataclass(frozen=True)
class Evidence:
    """A candidate sentence: its span, the chunk it came from, and how well it answers."""

    source: str
    chunk_id: str
    start: int
    end: int
    text: str
    score: float
    dense: float
    lexical: float


def rank_sentences(result: SearchResult, corpus: Corpus) -> list[Evidence]:
    """Every embedded sentence of the top hits, best first."""
    query, sentences, lexicon = result.query, corpus.sentences, corpus.lexicon
    q_tokens = set(query.tokens)
    q_weight = sum(lexicon.idf(t) for t in q_tokens) or 1.0
    answer_type = expected_answer_type(query.text)
    seen: set[int] = set()
    out: list[Evidence] = []
    for hit in result.hits[:SEARCH_DEPTH]:
        chunk = hit.chunk
        rows = sentences.rows(corpus.chunk_row(chunk.id))
        similarities = sentences.scores(query.vector, rows)
        for row, dense in zip(rows.tolist(), similarities.tolist()):
            if row in seen:
                continue
            seen.add(row)
            source, start, end = sentences.keys[row]
            text = chunk.text[start - chunk.start:end - chunk.start]
            s_tokens = sentences.tokens(row, text, chunk.language)
            lexical = sum(lexicon.idf(t, unseen=0.0) for t in q_tokens & s_tokens) / q_weight
            score = dense + LEXICAL_WEIGHT * lexical
            if holds_answer_type(text, answer_type):
                score += ANSWER_TYPE_BONUS
            if is_headline(text):
                score -= HEADLINE_PENALTY
            out.append(Evidence(source, chunk.id, start, end, text, score, dense, lexical))
    out.sort(key=lambda e: -e.score)
    return out


def should_abstain(best: Evidence, policy: AnswerPolicy, same_language_corpus: bool) -> bool:
    """Abstain when the best sentence is far from the question, or only loosely close and sharing no
    word, name or number with it (off-topic questions land there; answerable ones did not).

    When no document is in the question's language, shared words are not to be expected and
    similarities run lower (XQuAD es->en: 5% of answerable questions under 0.80), so only the
    floor applies, lowered by the policy's ``cross_lingual_margin``.
    """
    if not same_language_corpus:
        return best.dense < policy.abstain_below - policy.cross_lingual_margin
    return best.dense < policy.abstain_below or (best.dense < policy.abstain_unmatched_below
                                                 and best.lexical == 0)


def select_sentences(ranked: list[Evidence]) -> list[Evidence]:
    """The best sentence, then up to ``MAX_SENTENCES - 1`` more that score within the margin: the
    wider SAME_SOURCE_MARGIN for the best sentence's file, SECOND_SENTENCE_MARGIN for others."""
    best = ranked[0]
    chosen = [best]
    for e in ranked[1:]:
        if len(chosen) == MAX_SENTENCES:
            break
        margin = SAME_SOURCE_MARGIN if e.source == best.source else SECOND_SENTENCE_MARGIN
        if e.score >= best.score - margin and all(normalize(e.text) != normalize(c.text) for c in chosen):
            chosen.append(e)
    return chosen


def frames(language: str) -> tuple[str, str]:
    """(the words that introduce quotes, the abstention sentence) in ``language`` (English if unknown)."""
    return FRAMES.get(language, FRAMES["en"])


def compose(result: SearchResult, corpus: Corpus, policy: AnswerPolicy, *,
            timings: Mapping[str, float] | None = None, warnings: tuple[str, ...] = ()) -> Answer:
    """Quote the best sentences with ``[n]`` markers, or abstain in the question's language."""
    lang = result.query.language if result.query.language in FRAMES else "en"
    intro, none = frames(lang)
    ranked = rank_sentences(result, corpus)
    citations: tuple[Citation, ...] = ()
    if not ranked or should_abstain(ranked[0], policy, result.corpus_has_language):
        text = none
    else:
        open_q, close_q = QUOTES.get(lang, ("“", "”"))
        citations = tuple(
            Citation(n=i + 1, source=e.source, chunk_id=e.chunk_id, start=e.start, end=e.end, text=e.text,
                     score=e.score)
            for i, e in enumerate(select_sentences(ranked))
        )
        text = intro + " " + " ".join(f"{open_q}{c.text}{close_q} [{c.n}]" for c in citations)
    return Answer(question=result.query.text, text=text, citations=citations, hits=result.hits,
                  abstained=not citations, language=lang, timings=dict(timings or {}), warnings=warnings)
