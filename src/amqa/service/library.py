"""The document library: what is indexed, and adding or removing a document (the web UI's Documents tab).

Files are written and deleted only inside a writable documents folder (never the bundled seeds), under
a safe new name (never an overwrite: :mod:`amqa.ingest.uploads`); the index then catches up (:class:`IndexKeeper`).
"""
from __future__ import annotations

from pathlib import Path

from amqa.errors import InvalidInputError
from amqa.index.local.store import IndexReport
from amqa.index.manifest import Manifest
from amqa.ingest.documents import DocumentList, IndexedFile, Skipped
from amqa.ingest.uploads import MAX_UPLOAD_BYTES, add_file, remove_file
from amqa.service.keeper import IndexKeeper

#: The prefix of the sources of a library folder indexed beside the documents folder.
LIBRARY_PREFIX = "library/"


class DocumentLibrary:
    """The documents of ``keeper``'s folders; uploads go to ``library`` when there is one (a folder
    indexed beside the documents, cited as ``library/<path>``), else to the documents folder."""

    def __init__(self, keeper: IndexKeeper, library: Path | None = None) -> None:
        self.keeper = keeper
        self.library = library

    @property
    def manifest(self) -> Manifest:
        """The local store's manifest (the files indexed, their records)."""
        return self.keeper.state().manifest

    def documents(self) -> DocumentList:
        """The indexed files (titles, languages, pages) and the skipped ones, caught up with the folders."""
        manifest = self.manifest
        folder_of = self.keeper.folder_of
        files = tuple(IndexedFile(source, record.title, record.language, record.chunks, record.page_count,
                                  folder_of(source).writable)
                      for source, record in manifest.files.items())
        skipped = tuple(Skipped(s.source, s.reason) for s in manifest.skipped_files)
        return DocumentList(files, skipped, manifest.updated)

    @property
    def upload_folder(self) -> Path:
        """Where :meth:`add_document` writes: the library when there is one, else the documents folder
        (refused for the bundled seeds, which amqa never changes)."""
        if self.library is not None:
            return self.library
        if not self.keeper.folders[0].writable:
            raise InvalidInputError("the bundled seed documents are read-only: serve your own folder with "
                                    "--docs DIR, or use the web UI, which adds documents to your library")
        return self.keeper.docs

    def add_document(self, name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> str:
        """Write a document into :attr:`upload_folder` under a safe, new name (never an overwrite) and
        return its source (as citations name it). Index it with :meth:`IndexKeeper.index` (or ask: the
        next question catches up)."""
        path = add_file(self.upload_folder, data, name, max_bytes)
        return (LIBRARY_PREFIX if self.library is not None else "") + path.name

    def remove_document(self, source: str) -> IndexReport:
        """Delete the file behind ``source`` (an indexed or skipped file) from its folder and update the
        index. The bundled seeds are refused: amqa never changes them."""
        manifest = self.manifest
        listed = set(manifest.files) | {s.source for s in manifest.skipped_files}
        if source not in listed:
            raise InvalidInputError(f"no document '{source}' in the index: refresh the list")
        folder = self.keeper.folder_of(source)
        if not folder.writable:
            raise InvalidInputError(f"'{source}' is one of the bundled seed documents, which amqa never changes")
        path = folder.path_of(source)
        if path is None:
            raise InvalidInputError(f"'{source}' is not a file of the documents folder")
        remove_file(folder.path, path)
        return self.keeper.index()
