"""Checking an LLM's reply against the passages it was given, and citing it, before anyone reads it.

amqa cites for the LLM: each sentence of the reply is attributed to the passage sentence that states
it (:meth:`Verifier.attribute`), searched in every passage, not only in the one the model cited. A
sentence is supported by one sentence of a passage, or by a sentence and the next one, when that
window holds every number and name of the sentence and either most of its words (the policy's
``support_lexical``) or a sentence close in meaning (``support_dense``, across languages). Words
spread over a whole passage do not count: "8 campuses et 3 instituts" is not supported by a chunk that
says "8" in one sentence and "3 instituts" in another. The model's ``[n]`` markers are replaced by
amqa's citations; a sentence no passage supports fails the reply (or is dropped: the policy's
``drop_unsupported``). The reply must also be about the question.

>>> clean_markers("Signée en 2016 [1][7]. Oui.[2]", passages=2)
('Signée en 2016 [1]. Oui [2].', 1)
>>> sorted(claim_names("Le campus de Cluny ouvre-t-il en 2027 avec apt-get, amd64 et /etc/apt ?"))
['/etc/apt', 'amd64', 'apt-get', 'cluny']
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Sequence

import numpy as np

from amqa.embedders import Embedder
from amqa.text import normalize, split_sentences, tokenize
from amqa.types import Chunk, ChunkSentences, Citation, Hit
from amqa.writers.policy import AnswerPolicy

_MARKER = re.compile(r"\[(\d+)\]")
#: A claim is supported by its words only when it has at least this many (a list item "- 1 : erreur"
#: of an invented list found its two words in a man page's translation notice).
MIN_WORDS = 3
_NUMBER = re.compile(r"\d+")
_MARKER_AFTER_STOP = re.compile(r"([.!?])[ \t]*((?:\[\d+\])+)")
_WORD = re.compile(r"[^\s\"'«»“”‘’()\[\],;:!?]+")
#: "garde-t-il", "propose-t-elle", "est-ce": French word order, not an identifier like "apt-get".
#: "1st", "1er", "3e": an ordinal (its number is checked), not an identifier like "amd64".
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th|er|re|e|ème|eme|è)$", re.IGNORECASE)
_INVERSION = re.compile(r"-(?:t-)?(?:il|elle|on|ils|elles|je|tu|nous|vous|ce|ci|la)$", re.IGNORECASE)
_NUMBER_WORDS = re.compile(r"\b(?:un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|vingt|trente|"
                           r"cent|mille|one|two|three|four|five|seven|eight|nine|ten|eleven|twelve|twenty|"
                           r"hundred|thousand|million|billion|milliards?|millions?|half|moitié|quart|dozen)\b",
                           re.IGNORECASE)
_END = re.compile(r"[ \t]*([.!?…]+[\"'»”’)]*)?[ \t]*$")


@dataclass(frozen=True, kw_only=True)
class Verified:
    """A checked reply: its text with amqa's markers, its citations, and the verdict."""

    text: str
    citations: tuple[Citation, ...] = ()
    supported: bool
    abstained: bool = False
    removed_markers: int = 0
    #: Sentences no passage supports (dropped from ``text`` when the reply was still shown).
    unsupported: tuple[str, ...] = ()
    reason: str


class Basis(str, Enum):
    """Why a passage window supports a sentence."""

    WORDS = "words"      #: most of the sentence's words are in the window
    MEANING = "meaning"  #: a sentence of the window is close in meaning (also across languages)


@dataclass(frozen=True, kw_only=True)
class Attribution:
    """Where a sentence is stated: passage ``passage`` (0-based, in the order given), document offsets
    ``start``..``end`` (one sentence, or two neighbours), on which ``basis``, with the window's best
    sentence similarity and its share of the sentence's words."""

    passage: int
    start: int
    end: int
    basis: Basis
    dense: float
    lexical: float


def clean_markers(reply: str, passages: int) -> tuple[str, int]:
    """The reply with out-of-range ``[n]`` markers removed and markers written after a full stop moved
    inside the sentence they cite; and how many markers were removed."""
    removed = 0

    def keep_valid(m: re.Match) -> str:
        nonlocal removed
        if 1 <= int(m.group(1)) <= passages:
            return m.group(0)
        removed += 1
        return ""

    # A space left before a stop by a removed marker goes ("2016 ." -> "2016."), not the one before ".deb".
    cleaned = re.sub(r"[ \t]+(?=[.,;:!?](?:\s|$))", "", _MARKER.sub(keep_valid, reply.strip())).strip()
    # "... 2016. [1]" cites the sentence before the marker: move the marker inside it.
    return _MARKER_AFTER_STOP.sub(r" \2\1", cleaned), removed


def is_abstention(text: str, abstain_text: str) -> bool:
    """The reply says the documents hold no answer (and cites nothing)."""
    def norm(s: str) -> str:
        return re.sub(r"\W+", " ", s.lower()).strip()

    return not _MARKER.search(text) and norm(abstain_text) in norm(text)


def _unmarked(sentence: str) -> str:
    """A sentence without its ``[n]`` markers, and without the space they leave before its stop."""
    return re.sub(r"[ \t]+(?=[.,;:!?](?:\s|$))", "", _MARKER.sub("", sentence)).strip()


#: A short line right before a sentence is its label ("— « Pre-Depends »" before "— Comme pour « Depends »
#: excepté que cela demande une installation complète ..."; "-H, --si" before its description): part of its window.
MAX_LABEL_CHARS = 60


def _labelled(chunk: Chunk, spans: Sequence[tuple[int, int]], i: int) -> int:
    """Where sentence ``i``'s window starts: at the short line before it (not itself an indexed sentence)."""
    before = spans[i - 1][1] if i else chunk.start
    gap = chunk.text[before - chunk.start:spans[i][0] - chunk.start]
    if not gap.strip() or len(gap.strip()) > MAX_LABEL_CHARS:
        return spans[i][0]
    return before + len(gap) - len(gap.lstrip())


def claim_numbers(text: str) -> set[str]:
    """The numbers a sentence states (digit groups joined: "68 980" is 68980)."""
    return set(_NUMBER.findall(normalize(text)))


def claim_names(text: str, capitalised: bool = True) -> set[str]:
    """The names and identifiers a sentence states, normalised: capitalised words after its first word,
    and words holding a digit, ``_ . / - :`` inside or a capital after the first letter (``apt-get``,
    ``/etc/apt``, ``sys.path``, ``LibreOffice``). A passage that supports the sentence contains each.
    ``capitalised=False``: the identifiers only (languages capitalise differently: "November", "Minister")."""
    names = set()
    for i, m in enumerate(_WORD.finditer(_MARKER.sub(" ", text))):
        word = m.group(0).strip(".-…`*")
        if len(word) < 2 or word.isdigit() or _ORDINAL.match(word):
            continue
        inner = re.search(r"\w[_./:]\w|^/\w|\d", word) is not None or (
            "-" in word.strip("-") and word.isascii() and not _INVERSION.search(word))
        if inner or (capitalised and i > 0 and word[0].isupper()) or re.search(r"[a-z][A-Z]", word):
            names.add(normalize(word))
    return names


class Verifier:
    """Checks replies against the passages they were given (each hit's chunk and sentences), with one
    embedder and one answer policy. It reads no index: what it needs comes with the hits.

    >>> from amqa.embedders import get_embedder
    >>> from amqa.writers.policy import HASH
    >>> text = "Le site compte 8 salles de cours. Il a 3 instituts de recherche depuis 1990."
    >>> hit = Hit(chunk=Chunk("a#0", "a.txt", 0, 0, len(text), text, "a", "fr"), rank=1, score=1.0)
    >>> v = Verifier(get_embedder("hash"), HASH)
    >>> found = v.attribute("Le site a 3 instituts depuis 1990.", [hit], "fr")
    >>> text[found.start:found.end]
    'Il a 3 instituts de recherche depuis 1990.'
    >>> v.attribute("Le site compte 8 campus et 3 instituts.", [hit], "fr") is None
    True
    """

    def __init__(self, embedder: Embedder, policy: AnswerPolicy) -> None:
        self.embedder = embedder
        self.policy = policy

    def check(self, reply: str, hits: Sequence[Hit], language: str, abstain_text: str,
              question_vector: np.ndarray, question: str = "") -> Verified:
        """Check an LLM reply against the passages it was given: every sentence attributed to a passage
        window that supports it (amqa's citation replaces the model's markers), and the reply about the
        question (so that a reply obeying an instruction planted in a document, though "supported" by
        that document, is not shown). ``question``: its names need only be in the passage, not in the window
        (the reply restates its subject, which the passage may name in another sentence)."""
        cleaned, removed = clean_markers(reply, len(hits))
        if not cleaned:
            return Verified(text="", supported=False, removed_markers=removed, reason="empty reply")
        if is_abstention(cleaned, abstain_text):
            return Verified(text=abstain_text, supported=True, abstained=True, removed_markers=removed,
                            reason="the model found no answer in the sources")
        claims = [c for c in (_unmarked(cleaned[a:b]) for a, b in split_sentences(cleaned)) if re.search(r"\w", c)]
        found = [self.attribute(claim, hits, language, question) for claim in claims]
        unsupported = tuple(c for c, a in zip(claims, found) if a is None)
        kept = [(c, a) for c, a in zip(claims, found) if a is not None]
        text, citations = self._cited(kept, hits)
        if not kept or (unsupported and not self.policy.drop_unsupported):
            # The draft as the LLM wrote it (markers cleaned), not only the sentences that stood.
            return Verified(text=cleaned, citations=citations, supported=False, removed_markers=removed,
                            unsupported=unsupported,
                            reason=f"{len(unsupported)} of {len(claims)} sentence(s) not supported by the sources")
        if not self.addresses(question_vector, text):
            return Verified(text=text, citations=citations, supported=False, removed_markers=removed,
                            unsupported=unsupported,
                            reason="the reply does not address the question (an instruction inside a document?)")
        if self.policy.support_typed and not self.holds_asked_type(question, text):
            return Verified(text=text, citations=citations, supported=False, removed_markers=removed,
                            unsupported=unsupported,
                            reason="the question asks for a date or a quantity and the reply holds none")
        if self.policy.support_subject and not self.names_subject(question, text, citations):
            return Verified(text=text, citations=citations, supported=False, removed_markers=removed,
                            unsupported=unsupported,
                            reason="the reply names none of the question's names (it answers about something else)")
        dropped = f"; {len(unsupported)} unsupported sentence(s) dropped" if unsupported else ""
        return Verified(text=text, citations=citations, supported=True, removed_markers=removed,
                        unsupported=unsupported, reason=f"every sentence shown is stated in the sources{dropped}")

    @staticmethod
    def _cited(kept: list[tuple[str, Attribution]], hits: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
        """The sentences, each ending with amqa's marker, and the citations in order of first mention."""
        numbers: dict[tuple[int, int, int], int] = {}
        citations: list[Citation] = []
        sentences = []
        for claim, a in kept:
            key = (a.passage, a.start, a.end)
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                hit = hits[a.passage]
                c = hit.chunk
                citations.append(Citation(n=numbers[key], source=c.source, chunk_id=c.id, start=a.start, end=a.end,
                                          text=c.text[a.start - c.start:a.end - c.start], score=hit.score))
            end = _END.search(claim)
            stop = end.group(1) or "." if end is not None else "."
            body = claim[:end.start()] if end is not None else claim
            sentences.append(f"{body} [{numbers[key]}]{stop}")
        return " ".join(sentences), tuple(citations)

    def attribute(self, claim: str, hits: Sequence[Hit], language: str, question: str = "") -> Attribution | None:
        """The passage window that best supports ``claim`` (see the module's rules), or None; the
        names of ``question`` need only be in the passage."""
        return self._attribute(claim, [(h.chunk, h.sentences) for h in hits], language, question)

    def support(self, claim: str, chunks: Sequence[tuple[Chunk, ChunkSentences | None]],
                language: str) -> dict[str, tuple[int, int]] | None:
        """``{chunk_id: (start, end)}`` of the window that supports the claim, or ``None``.
        ``chunks``: (chunk, its sentences) pairs, as hits carry them (what faithfulness asks)."""
        found = self._attribute(claim, chunks, language)
        return None if found is None else {chunks[found.passage][0].id: (found.start, found.end)}

    def _attribute(self, claim: str, chunks: Sequence[tuple[Chunk, ChunkSentences | None]],
                   language: str, question: str = "") -> Attribution | None:
        claim = _unmarked(claim)
        tokens = set(tokenize(claim, language))
        asked = normalize(question)
        numbers = claim_numbers(claim)
        named = claim_names(claim) if self.policy.support_names else set()
        # A name the question holds is the reply restating its subject: it must be in the passage, and in
        # the window (or the passage's title) when the window is merely close in meaning ("10 millions" is
        # stated, word for word, of "ce second AMI", the question names it "AMI Territoires d'industrie";
        # "Le projet Actif-IA a un budget de 10 millions" is only close, 0.852, to that sentence; "error
        # 511 in a Calc cell" is close to a row of a page titled "Codes d'erreur dans LibreOffice Calc").
        # Any other name must be in the window.
        subject, names = {n for n in named if n in asked}, {n for n in named if n not in asked}
        # Across languages, capitalised words are no evidence ("then 1st Minister ... in November 2018" of
        # "En novembre 2018, Edouard Philippe, alors 1er ministre"): identifiers only, and the question's names.
        identifiers = names & claim_names(claim, capitalised=False)
        # Closeness in meaning alone supports a claim that states a number or a name the window holds:
        # "Les codes de sortie ls renvoie-ils et que signifient-ils sont :" (an invented list's lead-in)
        # is 0.878 from "générer PARTIES fichiers de sortie" and states nothing.
        anchored = bool(numbers or named) or not self.policy.support_anchored
        vector = self.embedder.embed([claim], "query")[0]
        best: tuple[tuple[float, ...], Attribution] | None = None
        for p, (chunk, held) in enumerate(chunks):
            title = normalize(chunk.title)
            if not all(n in title or n in normalize(chunk.text) for n in subject):
                continue
            spans, sims, sentence_tokens = self._sentences(chunk, held, vector)
            wanted = names if chunk.language == language else identifiers
            for i in range(len(spans)):
                for j in range(i, min(i + 1 + self.policy.support_window, len(spans))):
                    a, b = _labelled(chunk, spans, i), spans[j][1]
                    text = normalize(chunk.text[a - chunk.start:b - chunk.start])
                    if not numbers <= set(_NUMBER.findall(text)) or not all(n in text for n in wanted):
                        continue
                    window_tokens = frozenset().union(*sentence_tokens[i:j + 1])
                    lexical = len(tokens & window_tokens) / len(tokens) if tokens else 0.0
                    dense = float(max(sims[i:j + 1]))
                    # Two words are found anywhere ("- 1 : erreur" in "tac(1) ... erreur de traduction"):
                    # a claim that short is supported by meaning only.
                    basis = (Basis.WORDS if lexical >= self.policy.support_lexical and len(tokens) >= MIN_WORDS else
                             Basis.MEANING if anchored and dense >= self.policy.support_dense and all(
                                 n in text or n in title for n in subject)
                             else None)
                    if basis is None:
                        continue
                    # A single sentence before a pair; then the closest window.
                    rank = (-(j - i), max(dense, lexical))
                    if best is None or rank > best[0]:
                        best = rank, Attribution(passage=p, start=a, end=b, basis=basis, dense=dense, lexical=lexical)
        return best[1] if best is not None else None

    def _sentences(self, chunk: Chunk, held: ChunkSentences | None,
                   vector: np.ndarray) -> tuple[Sequence[tuple[int, int]], np.ndarray, Sequence[frozenset[str]]]:
        """A chunk's sentences (document offsets), their similarity to ``vector`` and their words: the
        index's embedded sentences, or for a hit made by hand, its text split and embedded here."""
        if held is not None and len(held):
            return held.spans, held.similarities(vector), held.tokens
        # The sentences the index would embed (amqa.index.planner.MIN_SENTENCE_CHARS): shorter lines are labels.
        spans = [(chunk.start + a, chunk.start + b) for a, b in split_sentences(chunk.text) if b - a >= 25]
        if not spans:
            return [], np.zeros(0), []
        texts = [chunk.text[a - chunk.start:b - chunk.start] for a, b in spans]
        sims = self.embedder.embed(texts, "passage") @ vector
        return spans, sims, [frozenset(tokenize(t, chunk.language)) for t in texts]

    @staticmethod
    def holds_asked_type(question: str, text: str) -> bool:
        """A question asking for a date or a quantity gets a reply holding one (a digit, a month, a number
        written out): "Quelle part ... ?" is not answered by which sections the packages are in."""
        from amqa.writers.extractive.sentences import ANSWER_TYPES, expected_answer_type

        # The question's first words only: "Why does my function keep accumulating items when I use ..."
        # does not ask for a date.
        asked = expected_answer_type(" ".join(question.split()[:4]))
        if asked not in ("date", "quantity"):
            return True
        said = _MARKER.sub("", text)
        return bool(ANSWER_TYPES[asked][1].search(said) or _NUMBER_WORDS.search(said))

    @staticmethod
    def names_subject(question: str, text: str, citations: Sequence[Citation]) -> bool:
        """The reply, or a passage sentence it is attributed to, holds one of the question's names (when
        it has any): "Qui dirige l'ENSMM ?" is not answered by "Le directeur général d'Arts et Métiers
        est Laurent Carraro", true as it is."""
        asked = claim_names(question)
        said = normalize(" ".join([text] + [c.text for c in citations]))
        return not asked or any(n in said for n in asked)

    def addresses(self, question_vector: np.ndarray, text: str) -> bool:
        """The reply (as a passage) is close enough to the question (as a query) to be about it."""
        reply_vector = self.embedder.embed([_MARKER.sub("", text)], "passage")[0]
        return float(reply_vector @ question_vector) >= self.policy.related_above
