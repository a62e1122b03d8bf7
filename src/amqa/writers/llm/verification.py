"""Checking an LLM's reply against the passages it was given, before anyone reads it.

``[n]`` markers that point at no passage are removed; every sentence must cite a passage that
supports it (its numbers appear there, and most of its words or a sentence close in meaning); the
reply must be about the question. :class:`Verifier` says whether all of that holds.

>>> clean_markers("Signée en 2016 [1][7]. Oui.[2]", passages=2)
('Signée en 2016 [1]. Oui [2].', 1)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from amqa.embedders import Embedder
from amqa.text import normalize, split_sentences, tokenize
from amqa.types import Chunk, ChunkSentences, Citation, Hit
from amqa.writers.policy import AnswerPolicy

# A cited sentence is supported when every number in it is in a cited passage and most of its words
# are there too (the policy's ``support_lexical``), or it is close in meaning to one of the passage's
# sentences (the policy's ``support_dense``, across languages). Calibrated with eval/calibrate_support.py:
# see eval/README.md, "LLM verification".

_MARKER = re.compile(r"\[(\d+)\]")
_NUMBER = re.compile(r"\d+")
_MARKER_AFTER_STOP = re.compile(r"([.!?])[ \t]*((?:\[\d+\])+)")


@dataclass(frozen=True, kw_only=True)
class Verified:
    """A checked reply: its text with valid markers renumbered, its citations, and the verdict."""

    text: str
    citations: tuple[Citation, ...] = ()
    supported: bool
    abstained: bool = False
    removed_markers: int = 0
    unsupported: tuple[str, ...] = ()
    reason: str


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

    cleaned = re.sub(r"[ \t]+(?=[.,;:!?])", "", _MARKER.sub(keep_valid, reply.strip())).strip()
    # "... 2016. [1]" cites the sentence before the marker: move the marker inside it.
    return _MARKER_AFTER_STOP.sub(r" \2\1", cleaned), removed


def is_abstention(text: str, abstain_text: str) -> bool:
    """The reply says the documents hold no answer (and cites nothing)."""
    def norm(s: str) -> str:
        return re.sub(r"\W+", " ", s.lower()).strip()

    return not _MARKER.search(text) and norm(abstain_text) in norm(text)


class Verifier:
    """Checks replies against the passages they were given (each hit's chunk and sentences), with one
    embedder and one answer policy. It reads no index: what it needs comes with the hits."""

    def __init__(self, embedder: Embedder, policy: AnswerPolicy) -> None:
        self.embedder = embedder
        self.policy = policy

    def check(self, reply: str, hits: Sequence[Hit], language: str, abstain_text: str,
              question_vector: np.ndarray) -> Verified:
        """Check an LLM reply against the passages it was given: markers in range, every sentence cited
        and supported by what it cites, and the reply about the question (so that a reply obeying an
        instruction planted in a document, though "supported" by that document, is not shown)."""
        cleaned, removed = clean_markers(reply, len(hits))
        if not cleaned:
            return Verified(text="", supported=False, removed_markers=removed, reason="empty reply")
        if is_abstention(cleaned, abstain_text):
            return Verified(text=abstain_text, supported=True, abstained=True, removed_markers=removed,
                            reason="the model found no answer in the sources")
        sentences = [cleaned[a:b] for a, b in split_sentences(cleaned)]
        citations, renumber, unsupported = self._cite(sentences, hits, language)
        text = _MARKER.sub(lambda m: f"[{renumber[int(m.group(1))]}]" if int(m.group(1)) in renumber else "",
                           cleaned)
        if unsupported or not citations:
            reason = (f"{len(unsupported)} of {len(sentences)} sentence(s) not supported by the cited sources"
                      if unsupported else "no sentence cites a source")
            return Verified(text=text, citations=citations, supported=False, removed_markers=removed,
                            unsupported=unsupported, reason=reason)
        if not self.addresses(question_vector, text):
            return Verified(text=text, citations=citations, supported=False, removed_markers=removed,
                            reason="the reply does not address the question (an instruction inside a document?)")
        return Verified(text=text, citations=citations, supported=True, removed_markers=removed,
                        reason="every sentence is supported by the sources it cites")

    def _cite(self, sentences: list[str], hits: Sequence[Hit],
              language: str) -> tuple[tuple[Citation, ...], dict[int, int], tuple[str, ...]]:
        """Citations in order of first mention (renumbered from 1), the renumbering, and the claims
        that cite nothing or are not supported by what they cite."""
        renumber: dict[int, int] = {}
        citations: list[Citation] = []
        unsupported: list[str] = []
        for sentence in sentences:
            cited = [int(n) for n in _MARKER.findall(sentence)]
            claim = _MARKER.sub("", sentence).strip()
            if not re.search(r"\w", claim):
                continue
            best = self.support(claim, [(hits[n - 1].chunk, hits[n - 1].sentences) for n in cited],
                                language) if cited else None
            if best is None:
                unsupported.append(claim)
                continue
            for n in cited:
                if n not in renumber:
                    renumber[n] = len(renumber) + 1
                    hit = hits[n - 1]
                    start, end = best.get(hit.chunk.id, (hit.chunk.start, hit.chunk.end))
                    citations.append(Citation(n=renumber[n], source=hit.chunk.source, chunk_id=hit.chunk.id,
                                              start=start, end=end,
                                              text=hit.chunk.text[start - hit.chunk.start:end - hit.chunk.start],
                                              score=hit.score))
        return tuple(citations), renumber, tuple(unsupported)

    def support(self, claim: str, chunks: Sequence[tuple[Chunk, ChunkSentences | None]],
                language: str) -> dict[str, tuple[int, int]] | None:
        """``{chunk_id: (start, end)}``: each chunk's sentence closest to the claim, or ``None`` when no
        chunk supports the claim (most of its words in the chunk, or a sentence close in meaning).
        ``chunks``: (chunk, its sentences) pairs, as hits carry them."""
        claim_tokens = set(tokenize(claim, language))
        claim_numbers = set(_NUMBER.findall(normalize(claim)))
        vector = self.embedder.embed([claim], "query")[0]
        supported = False
        best: dict[str, tuple[int, int]] = {}
        for chunk, sentences in chunks:
            # A number the passage does not contain is never supported, however close the wording.
            numbers_ok = claim_numbers <= set(_NUMBER.findall(normalize(chunk.text)))
            passage_tokens = set(tokenize(chunk.text, chunk.language))
            lexical = len(claim_tokens & passage_tokens) / len(claim_tokens) if claim_tokens else 0.0
            dense = 0.0
            match = sentences.best(vector) if sentences is not None else None
            if sentences is not None and match is not None:
                dense = match[1]
                best[chunk.id] = sentences.spans[match[0]]
            supported = supported or (numbers_ok and (lexical >= self.policy.support_lexical or dense >= self.policy.support_dense))
        return best if supported else None

    def addresses(self, question_vector: np.ndarray, text: str) -> bool:
        """The reply (as a passage) is close enough to the question (as a query) to be about it."""
        reply_vector = self.embedder.embed([_MARKER.sub("", text)], "passage")[0]
        return float(reply_vector @ question_vector) >= self.policy.related_above
