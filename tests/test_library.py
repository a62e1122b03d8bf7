"""Documents managed through the Engine: the index follows the folders before every question (sizes and
times first, a hash only when they moved), uploads go to a library beside the read-only seeds, and
documents are deleted only from their own folder."""
import os
import time
from pathlib import Path

import pytest

from amqa import Engine
from amqa.ingest.documents import RACY_NS, DocumentFolder, scan_folder
from amqa.errors import InvalidInputError
from amqa.settings import Settings, bundled_seeds
from amqa.index.local.store import read_manifest, update_index
from amqa.ingest.uploads import remove_file

ROOT = Path(__file__).resolve().parents[1]
HOURS = 3600 * 10**9


def test_a_file_removed_on_disk_is_never_cited_again_and_a_new_one_is_found(docs_copy, tmp_path):
    engine = Engine(docs_copy, tmp_path / "store", "hash", progress=False)
    question = "Combien d'entreprises compte le bassin de Montbéliard ?"
    cited = engine.answer(question).citations[0].source
    (docs_copy / cited).unlink()
    assert cited not in {c.source for c in engine.answer(question).citations}
    assert cited not in engine.manifest.files
    (docs_copy / "velo.md").write_text("Le parking vélo de la gare de Cluny compte 112 places.", encoding="utf-8")
    assert engine.answer("Combien de places compte le parking vélo de Cluny ?").citations[0].source == "velo.md"


def test_a_file_changed_on_disk_is_read_again_before_the_next_answer(docs_copy, tmp_path):
    engine = Engine(docs_copy, tmp_path / "store", "hash", progress=False)
    (docs_copy / "horaires.txt").write_text("La bibliothèque de Metz ouvre à 8 h le samedi.", encoding="utf-8")
    assert "8 h" in engine.answer("À quelle heure ouvre la bibliothèque de Metz le samedi ?").text
    # Same size, so only the modification time tells: the file is hashed and read again.
    (docs_copy / "horaires.txt").write_text("La bibliothèque de Metz ouvre à 9 h le samedi.", encoding="utf-8")
    a = engine.answer("À quelle heure ouvre la bibliothèque de Metz le samedi ?")
    assert "9 h" in a.text and "8 h" not in a.text


def test_an_unchanged_file_is_not_read_but_a_moved_or_recent_one_is(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("Le campus de Cluny.", encoding="utf-8")
    st = f.stat()
    now = time.time_ns()
    known = {"a.txt": {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": "recorded"}}
    # Same size and time, stamped well after the write: the recorded hash is kept, the file is not read.
    assert scan_folder(tmp_path, known, trusted_before_ns=st.st_mtime_ns + RACY_NS + 1).files[0].sha256 == "recorded"
    # Written within RACY_NS of the stamp: it may have changed in the same clock tick, so it is read.
    assert scan_folder(tmp_path, known, trusted_before_ns=st.st_mtime_ns + 1).files[0].sha256 != "recorded"
    os.utime(f, ns=(now - HOURS, now - HOURS))  # touched: the time moved, the file is read
    assert scan_folder(tmp_path, known, trusted_before_ns=now).files[0].sha256 != "recorded"


def test_an_unreadable_file_is_not_read_again_until_it_changes(docs_copy, tmp_path, monkeypatch):
    import amqa.index.planner as planner_mod

    (docs_copy / "vide.txt").write_text("   \n", encoding="utf-8")
    first = update_index(docs_copy, tmp_path / "store", "hash")
    assert [s.source for s in first.skipped] == ["vide.txt"]
    reads = []
    monkeypatch.setattr(planner_mod, "read_document", lambda f: reads.append(f.source))
    again = update_index(docs_copy, tmp_path / "store", "hash")
    assert again.up_to_date and reads == [] and [s.source for s in again.skipped] == ["vide.txt"]
    assert "empty" in again.skipped[0].reason or "no text" in again.skipped[0].reason


def test_touched_files_get_their_new_times_recorded(docs_copy, tmp_path):
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    f = docs_copy / "000_c8fb014e83a46547.txt"
    past = time.time_ns() - HOURS
    os.utime(f, ns=(past, past))
    assert update_index(docs_copy, store, "hash").up_to_date  # same content: nothing re-embedded
    assert read_manifest(store).files[f.name].mtime_ns == past


def test_uploads_over_the_bundled_seeds_go_to_the_library_beside_them(tmp_path, settings):
    seeds_before = {p.name: p.stat().st_mtime_ns for p in bundled_seeds().iterdir()}
    engine = Engine(embedder="hash", progress=False, library=settings.library)
    assert engine.upload_folder == settings.library == tmp_path / "amqa-home" / "library"
    assert len(engine.documents().files) == 5  # the seeds, indexed on first use
    source = engine.add_document("velo.md", "Le parking vélo de la gare de Cluny compte 112 places.".encode())
    assert source == "library/velo.md" and (settings.library / "velo.md").is_file()
    report = engine.index()
    assert report.added == ["library/velo.md"]
    a = engine.answer("Combien de places compte le parking vélo de Cluny ?")
    assert a.citations[0].source == "library/velo.md"
    listed = {f.source: f for f in engine.documents().files}
    assert listed["library/velo.md"].removable and not listed["001_3c9c59b90a3a1c43.txt"].removable
    with pytest.raises(InvalidInputError, match="bundled seed documents, which amqa never changes"):
        engine.remove_document("001_3c9c59b90a3a1c43.txt")
    assert engine.remove_document("library/velo.md").removed == ["library/velo.md"]
    assert not (settings.library / "velo.md").exists()
    assert "library/velo.md" not in {c.source for c in engine.answer("Combien de places compte le parking "
                                                                     "vélo de Cluny ?").citations}
    assert {p.name: p.stat().st_mtime_ns for p in bundled_seeds().iterdir()} == seeds_before
    # The seeds alone (the CLI, the evaluation) keep their own index, without the library.
    assert Engine(embedder="hash", progress=False).store != engine.store


def test_the_bundled_seeds_take_no_upload_without_a_library():
    with pytest.raises(InvalidInputError, match="read-only"):
        Engine(embedder="hash", progress=False).add_document("a.txt", b"Un texte.")


def test_remove_document_deletes_only_known_files_inside_their_folder(docs_copy, tmp_path):
    engine = Engine(docs_copy, tmp_path / "store", "hash", progress=False)
    (tmp_path / "outside.txt").write_text("Ne pas effacer.", encoding="utf-8")
    for source in ("../outside.txt", "nope.txt"):
        with pytest.raises(InvalidInputError, match="no document"):
            engine.remove_document(source)
    with pytest.raises(InvalidInputError, match="outside the documents folder"):
        remove_file(docs_copy, docs_copy / ".." / "outside.txt")
    assert (tmp_path / "outside.txt").is_file()
    assert DocumentFolder(docs_copy).path_of("a/../../outside.txt") is None
    report = engine.remove_document("002_d86c49a6ec5f4adf.txt")
    assert report.removed == ["002_d86c49a6ec5f4adf.txt"] and not (docs_copy / "002_d86c49a6ec5f4adf.txt").exists()


def test_index_reports_its_progress(docs_copy, tmp_path):
    steps = []
    Engine(docs_copy, tmp_path / "store", "hash", progress=False).index(
        on_progress=lambda step, done, total: steps.append((step, done, total)))
    reading = [s for s in steps if s[0] == "reading"]
    embedding = [s for s in steps if s[0] == "embedding"]
    assert reading[0] == ("reading", 0, 5) and len(reading) == 5
    assert embedding and embedding[-1][1] == embedding[-1][2] > 0


def test_library_setting_follows_amqa_home_unless_set():
    assert Settings.from_env({"AMQA_HOME": "/tmp/h"}).library == Path("/tmp/h/library")
    assert Settings.from_env({"AMQA_HOME": "/tmp/h", "AMQA_LIBRARY": "/tmp/lib"}).library == Path("/tmp/lib")
    assert Settings.from_env({}).library.name == "library"
