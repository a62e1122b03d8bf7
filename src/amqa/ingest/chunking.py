"""Split a :class:`Document` into overlapping chunks of whole sentences.

>>> from amqa.types import Document
>>> doc = Document("a.txt", "a", "Une première phrase assez longue. Une autre phrase ici. La fin du texte.", "fr", "0")
>>> [c.text for c in chunk_document(doc, ChunkSettings(size=60, overlap=0))]
['Une première phrase assez longue. Une autre phrase ici.', 'La fin du texte.']
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from amqa.errors import InvalidInputError
from amqa.text import split_sentences
from amqa.types import Chunk, Document, Sentence

@dataclass(frozen=True)
class ChunkSettings:
    """Chunk size and overlap in characters. The defaults were chosen on the evaluation set
    (see ``eval/README.md``, "Tuning")."""

    size: int = 900
    overlap: int = 200

    def __post_init__(self) -> None:
        if self.size < 50:
            raise InvalidInputError(f"chunk size must be at least 50 characters. Currently, size is {self.size}")
        if not 0 <= self.overlap < self.size:
            raise InvalidInputError(
                f"chunk overlap must be between 0 and size-1 ({self.size - 1}). Currently, overlap is {self.overlap}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

def chunk_document(doc: Document, settings: ChunkSettings = ChunkSettings()) -> list[Chunk]:
    """Chunks of at most ``settings.size`` characters (a longer sentence is cut at white space),
    each starting with the last sentences of the previous one, up to ``settings.overlap`` characters."""
    sentences = [piece for span in split_sentences(doc.text) for piece in _cut_long(doc.text, span, settings.size)]
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j = i + 1
        while j < len(sentences) and sentences[j][1] - sentences[i][0] <= settings.size:
            j += 1
        start, end = sentences[i][0], sentences[j - 1][1]
        ordinal = len(chunks)
        chunks.append(Chunk(
            id=f"{doc.source}#{ordinal}",
            source=doc.source,
            ordinal=ordinal,
            start=start,
            end=end,
            text=doc.text[start:end],
            title=doc.title,
            language=doc.language,
            sentences=tuple(Sentence(a, b) for a, b in sentences[i:j]),
        ))
        if j >= len(sentences):
            break
        # Step back over whole sentences that fit in the overlap, but always move forward.
        nxt = j
        while nxt - 1 > i and end - sentences[nxt - 1][0] <= settings.overlap:
            nxt -= 1
        i = nxt
    return chunks

def _cut_long(text: str, span: tuple[int, int], size: int) -> list[tuple[int, int]]:
    start, end = span
    pieces = []
    while end - start > size:
        cut = text.rfind(" ", start + size // 2, start + size)
        cut = cut if cut > start else start + size
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces

