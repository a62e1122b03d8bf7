"""amqa: offline multilingual question answering over your documents, with cited sources.

>>> from amqa import answer
>>> a = answer("Combien d'apprentis sont formés à Arts et Métiers ?")   # doctest: +SKIP
>>> a.text, [c.source for c in a.citations]                          # doctest: +SKIP
"""
__version__ = "0.1.0"

from .chunking import ChunkSettings  # noqa: E402
from .embedders import Embedder, get_embedder  # noqa: E402
from .engine import Engine, answer  # noqa: E402
from .errors import AmqaError, IndexMismatchError, InvalidInputError, MissingDependencyError, NoDocumentsError  # noqa: E402
from .types import Answer, Chunk, Citation, Document, Hit  # noqa: E402

__all__ = ["answer", "Engine", "Answer", "Citation", "Hit", "Chunk", "Document", "Embedder", "get_embedder",
           "ChunkSettings", "AmqaError", "InvalidInputError", "NoDocumentsError", "IndexMismatchError",
           "MissingDependencyError", "__version__"]
