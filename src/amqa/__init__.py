"""amqa: offline multilingual question answering over your documents, with cited sources.

>>> from amqa import answer
>>> a = answer("Combien d'apprentis sont formés à Arts et Métiers ?")   # doctest: +SKIP
>>> a.text, [c.source for c in a.citations]                          # doctest: +SKIP
"""
from ._version import __version__
from .chunking import ChunkSettings
from .embedders import Embedder, get_embedder
from .engine import Engine, answer
from .errors import (AmqaError, GeneratorError, IndexMismatchError, InvalidInputError, MissingDependencyError,
                     NoDocumentsError)
from .policy import AnswerPolicy
from .settings import Settings
from .types import Answer, Chunk, Citation, Document, Hit, Outcome, Verification

__all__ = ["answer", "Engine", "Settings", "Answer", "Citation", "Hit", "Chunk", "Document", "Outcome", "Verification",
           "Embedder", "get_embedder", "AnswerPolicy", "ChunkSettings", "AmqaError", "InvalidInputError",
           "NoDocumentsError", "IndexMismatchError", "MissingDependencyError", "GeneratorError", "__version__"]
