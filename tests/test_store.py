import errno
import json
import shutil
import time

import numpy as np
import pytest

import amqa.index.planner as planner_mod
import amqa.index.local.segments as segments_mod
import amqa.index.local.store as store_mod
from amqa.ingest.documents import DocumentFolder
from amqa.embedders import HashEmbedder
from amqa.errors import IndexMismatchError, IndexUpdateError, NoDocumentsError
from amqa.index.manifest import FileRecord, FolderRecord, Manifest
from amqa.index.local.store import current_index_dir, load_index, read_manifest, update_index


class CountingEmbedder(HashEmbedder):
    """The hash test embedder, recording which texts it was asked to embed."""

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def embed_batch(self, texts, kind):
        self.seen += list(texts)
        return super().embed_batch(texts, kind)


def test_incremental_update_embeds_only_what_changed(docs_copy, tmp_path):
    store = tmp_path / "store"
    emb = CountingEmbedder()
    first = update_index(docs_copy, store, emb)
    assert len(first.added) == 5 and emb.seen

    emb.seen.clear()
    t0 = time.perf_counter()
    again = update_index(docs_copy, store, emb)
    assert again.up_to_date and emb.seen == [] and time.perf_counter() - t0 < 1.0

    changed = docs_copy / "004_1b3744d526457350.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\nUne phrase ajoutée sur le campus de Montbéliard.",
                       encoding="utf-8")
    (docs_copy / "001_3c9c59b90a3a1c43.txt").unlink()
    report = update_index(docs_copy, store, emb)
    assert report.changed == ["004_1b3744d526457350.txt"] and report.removed == ["001_3c9c59b90a3a1c43.txt"]
    assert emb.seen and all(t in changed.read_text(encoding="utf-8") for t in emb.seen)

    index = load_index(store, emb)
    sources = {c.source for c in index.chunks}
    assert "001_3c9c59b90a3a1c43.txt" not in sources and len(sources) == 4
    assert {k[0] for k in index.sentence_keys} == sources
    assert len(index.chunks) == index.chunk_vectors.shape[0]
    assert any("Une phrase ajoutée" in c.text for c in index.chunks)


def test_failure_mid_write_keeps_the_previous_index(docs_copy, tmp_path, monkeypatch):
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    before = current_index_dir(store)
    chunks_before = len(load_index(store, HashEmbedder()).chunks)
    (docs_copy / "new.txt").write_text("Un nouveau document sur l'apprentissage.", encoding="utf-8")

    real = segments_mod.save_array

    def crash(path, array):
        if str(path).endswith("sentences.npy"):  # after the chunk vectors, before the sentence vectors
            raise OSError(errno.ENOSPC, "No space left on device (injected)", str(path))
        real(path, array)

    monkeypatch.setattr(segments_mod, "save_array", crash)
    with pytest.raises(IndexUpdateError, match="injected.*Free some disk space"):
        update_index(docs_copy, store, "hash")
    monkeypatch.undo()
    assert current_index_dir(store) == before
    assert len(load_index(store, HashEmbedder()).chunks) == chunks_before
    assert not list(store.glob("*.tmp")) and not list((store / "segments").glob("*.tmp")), \
        "the half-written folders are cleaned up"
    assert update_index(docs_copy, store, "hash").added == ["new.txt"]


def test_mismatched_manifest_is_refused_with_rebuild_hint(hash_store, tmp_path):
    class OtherEmbedder(HashEmbedder):
        id = "some-other-model"

    with pytest.raises(IndexMismatchError, match="--rebuild"):
        load_index(hash_store, OtherEmbedder())

    import shutil
    copy = tmp_path / "store"
    shutil.copytree(hash_store, copy)
    manifest_path = current_index_dir(copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format version 999.*--rebuild"):
        load_index(copy, HashEmbedder())


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.docx").write_bytes(b"PK\x03\x04")
    with pytest.raises(NoDocumentsError, match="no document to index.*notes.docx"):
        update_index(tmp_path / "docs", tmp_path / "store", "hash")
    assert current_index_dir(tmp_path / "store") is None


def test_engine_leaves_an_index_of_another_folder_alone(tmp_path):
    from amqa import Engine

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "a.txt").write_text("Le laboratoire de Cluny étudie les alliages légers.", encoding="utf-8")
    (b / "b.txt").write_text("The Bordeaux campus builds assembly robots.", encoding="utf-8")
    store = tmp_path / "store"
    update_index(a, store, "hash")
    answer = Engine(b, store, "hash", progress=False).answer("Que étudie le laboratoire de Cluny ?")
    assert [c.source for c in answer.citations] == ["a.txt"]
    assert set(store_mod.read_manifest(store).files) == {"a.txt"}


def test_engine_answers_from_a_store_it_cannot_update(docs_copy, tmp_path, monkeypatch, capsys):
    import amqa.service.keeper as engine_mod
    from amqa import Engine

    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    (docs_copy / "new.txt").write_text("Le campus de Cluny ouvre une fonderie pédagogique.", encoding="utf-8")

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(store / ".lock"))

    monkeypatch.setattr(engine_mod, "update_index", read_only)
    answer = Engine(docs_copy, store, "hash", progress=False).answer("Qui dirige l'école de Besançon ?")
    assert answer.citations and "new.txt" not in {c.source for c in answer.citations}
    assert any("last good index" in w and "Permission denied" in w for w in answer.warnings), answer.warnings


def test_files_read_by_another_reader_version_are_read_again(docs_copy, tmp_path, monkeypatch):
    import amqa.ingest.documents as documents_mod

    store = tmp_path / "store"
    emb = CountingEmbedder()
    before = update_index(docs_copy, store, emb).index
    monkeypatch.setattr(planner_mod, "READER_VERSION", documents_mod.READER_VERSION + 1)
    emb.seen.clear()
    report = update_index(docs_copy, store, emb)
    assert len(report.changed) == 5 and not report.up_to_date
    assert store_mod.read_manifest(store).reader_version == documents_mod.READER_VERSION + 1
    # Read into the same text, the files keep their vectors: nothing is embedded again.
    assert emb.seen == [] and report.embedded_texts == 0
    after = load_index(store, emb)
    assert [c.id for c in after.chunks] == [c.id for c in before.chunks]
    assert (np.asarray(after.chunk_vectors) == np.asarray(before.chunk_vectors)).all()
    assert list(after.sentence_keys) == list(before.sentence_keys)
    assert update_index(docs_copy, store, emb).up_to_date


def test_a_file_read_into_other_text_is_embedded_again(docs_copy, tmp_path, monkeypatch):
    """Vectors are kept only where the text is the same: when a new reader reads other text from the
    same files (here the .txt reader, wrapped to rename the school), they are embedded again."""
    import amqa.ingest.documents as documents_mod
    from amqa.ingest.readers import Extracted

    store = tmp_path / "store"
    emb = CountingEmbedder()
    update_index(docs_copy, store, emb)
    monkeypatch.setattr(planner_mod, "READER_VERSION", documents_mod.READER_VERSION + 1)
    reader = documents_mod.READERS[".txt"]
    monkeypatch.setitem(documents_mod.READERS, ".txt",
                        lambda path, budget: Extracted(reader(path, budget).text.replace("Arts et Métiers", "ENSAM"), "t"))
    emb.seen.clear()
    update_index(docs_copy, store, emb)
    assert emb.seen and all("Arts et Métiers" not in t for t in emb.seen)
    assert any("ENSAM" in c.text for c in load_index(store, emb).chunks)


def test_language_bias_is_one_value_per_language(hash_engine):
    import numpy as np

    corpus = hash_engine.backend
    vector = hash_engine.embedder.embed(["campus"], "query")[0]
    chunk_bias, sentence_bias = corpus.language_bias(vector)
    for lang in {c.language for c in corpus.chunks}:
        rows = [i for i, c in enumerate(corpus.chunks) if c.language == lang]
        assert np.allclose(chunk_bias[rows], chunk_bias[rows[0]]) and np.allclose(sentence_bias[rows], sentence_bias[rows[0]])
        mean = corpus.chunk_vectors[rows].mean(axis=0)
        assert np.isclose(chunk_bias[rows[0]], mean @ vector)
    assert len(set(np.round(chunk_bias, 6))) == len(corpus.languages) == 2  # the seeds: French and English


def test_a_chunk_in_a_stray_language_gets_no_language_bias(docs_copy, tmp_path):
    from amqa import Engine

    # One short German file among the French and English seeds: under 5% of the chunks.
    (docs_copy / "notiz.txt").write_text("Die Schule ist in der Stadt und wir sind nicht hier.", encoding="utf-8")
    engine = Engine(docs_copy, tmp_path / "store", "hash", progress=False)
    corpus = engine.backend
    assert "de" not in corpus.languages and len(corpus.languages) == 2
    row = corpus.position("notiz.txt#0")
    chunk_bias, sentence_bias = corpus.language_bias(engine.embedder.embed(["campus"], "query")[0])
    assert chunk_bias[row] == 0 and sentence_bias[row] == 0 and chunk_bias[0] != 0


def test_a_retired_index_dated_in_the_future_is_not_kept_for_ever(docs_copy, tmp_path):
    """Retired indexes stay RETIRED_GRACE seconds for lock-free readers; one whose publication time lies
    ahead (a clock set back, a store copied from another machine) is not kept for ever."""
    import json
    import time

    from amqa.index.local.store import current_index_dir, update_index

    store = tmp_path / "store"
    for _ in range(3):
        update_index(docs_copy, store, "hash", rebuild=True)
    folders = sorted(p.name for p in store.glob("index-*"))
    assert len(folders) == 3, folders  # all replaced within the grace period: kept
    current = current_index_dir(store)
    previous = json.loads((current / "links.json").read_text(encoding="utf-8"))["previous"]
    links = store / previous / "links.json"
    data = json.loads(links.read_text(encoding="utf-8"))
    data["published"] = time.time() + 3600
    links.write_text(json.dumps(data), encoding="utf-8")
    update_index(docs_copy, store, "hash")  # up to date: only the clean-up runs
    assert sorted(p.name for p in store.glob("index-*")) == sorted([current.name, previous])


def test_the_clean_up_removes_only_the_names_amqa_writes_and_only_in_a_marked_store(docs_copy, tmp_path):
    """What a killed update leaves (amqa's names) goes; a user's look-alikes stay, and so does the
    target of a link named like an index folder; in a folder not marked as a store nothing goes."""
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    current = current_index_dir(store)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("à garder", encoding="utf-8")
    # name -> a folder (True) or a file (False)
    ours = {"index-20200101T000000-abcdef": True, "index-20200101T000000-abcdef.tmp": True, "CURRENT.tmp": False,
            "segments/seg-20200101T000000-abcdef12": True, "segments/seg-20200101T000000-abcdef12.tmp": True,
            f"{current.name}/manifest.json.tmp": False}
    users = {"index-2024/report.txt": False, "index-20200101T000000-abcdef.bak": False, "notes.tmp": False,
             "backup.tmp/a.txt": False, "segments/seg-a/marche.md": False, "segments/seg-x.tmp": False,
             "index-20200101T000000-ABCDEF": True}
    for name, folder in {**ours, **users}.items():
        (store / name).parent.mkdir(parents=True, exist_ok=True)
        if folder:
            (store / name).mkdir()
        else:
            (store / name).write_text("x", encoding="utf-8")
    link = "index-20200101T000000-0000ff"
    (store / link).symlink_to(outside)  # a link with amqa's name: removed, its target not followed

    def present(folder, names):
        return [n for n in names if (folder / n).exists() or (folder / n).is_symlink()]

    unmarked = tmp_path / "unmarked"
    shutil.copytree(store, unmarked, symlinks=True)
    (unmarked / "amqa-store.json").unlink(missing_ok=True)
    store_mod._remove_temporaries(unmarked)
    store_mod._collect_garbage(unmarked)
    assert present(unmarked, [*ours, *users, link]) == [*ours, *users, link], "nothing goes in an unmarked folder"

    assert update_index(docs_copy, store, "hash").up_to_date  # every update starts with the clean-up
    assert present(store, [*ours, link]) == [] and present(store, users) == list(users)
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "à garder"
    assert len(load_index(store, HashEmbedder()).files) == 5


def test_a_manifest_is_read_and_written_back_as_the_same_json(docs_copy, tmp_path):
    """Manifest.from_dict and to_dict round-trip what amqa writes, key order included: an index with
    a skipped file kept with its stamp, and after its stamps were recorded again in place."""
    store = tmp_path / "store"
    (docs_copy / "vide.txt").write_text("  \n", encoding="utf-8")
    update_index(docs_copy, store, "hash")
    path = current_index_dir(store) / "manifest.json"
    for _ in range(2):
        text = path.read_text(encoding="utf-8")
        manifest = Manifest.from_dict(json.loads(text))
        assert json.dumps(manifest.to_dict(), ensure_ascii=False) == text
        assert manifest == read_manifest(store) and manifest.unreadable().keys() == {"vide.txt"}
        assert all(r.size is not None and r.segment in manifest.segments for r in manifest.files.values())
        touched = docs_copy / "000_c8fb014e83a46547.txt"
        touched.touch()
        assert update_index(docs_copy, store, "hash").up_to_date  # records the new time in this manifest


def test_a_manifest_an_older_amqa_wrote_still_loads(docs_copy, tmp_path):
    """Fields an older format-2 manifest lacks (reader version, folders, scan time, counts, links,
    the files' sizes and times) get their defaults; its files are read again (reader version 1)."""
    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    path = current_index_dir(store) / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in ("reader_version", "folders", "scanned_ns", "counts", "previous", "published"):
        del data[key]
    for record in data["files"].values():
        del record["size"], record["mtime_ns"]
    path.write_text(json.dumps(data), encoding="utf-8")
    old = read_manifest(store)
    assert old.reader_version == 1 and old.counts is None and old.scanned_ns == 0
    assert old.read_folders() == (FolderRecord(str(docs_copy.resolve()), ""),)
    assert old.to_dict() == {**data, "reader_version": 1, "folders": [], "scanned_ns": 0} | {"files": data["files"]}
    assert len(load_index(store, HashEmbedder()).files) == 5
    report = update_index(docs_copy, store, "hash")
    assert len(report.changed) == 5 and report.embedded_texts == 0  # read again, same text: vectors kept
    assert all(r.size is not None for r in read_manifest(store).files.values())


def test_a_file_record_keeps_fields_it_does_not_know():
    raw = {"sha256": "ab", "title": "T", "language": "fr", "chunks": 1, "sentences": 2, "chars": 30,
           "segment": "seg-1", "size": 30, "mtime_ns": 5, "checked_by": "a newer amqa"}
    record = FileRecord.from_dict(raw)
    assert record.extra == {"checked_by": "a newer amqa"} and record.to_dict() == raw
    assert list(record.to_dict()) == list(raw)


def test_the_plan_and_the_engine_check_agree_on_what_changed(docs_copy, tmp_path):
    """planner.compare sorts the files; planner.has_changed (the check before questions) says whether
    that sorting finds anything to do: the same rule, one place."""
    store = tmp_path / "store"
    (docs_copy / "vide.txt").write_text("  \n", encoding="utf-8")
    update_index(docs_copy, store, "hash")
    manifest = read_manifest(store)
    folders = (DocumentFolder(docs_copy),)

    def plan():
        scan = planner_mod.scan(folders, manifest)
        found = planner_mod.compare(scan, manifest)
        assert planner_mod.has_changed(scan, manifest) == (not found.up_to_date)
        assert not planner_mod.has_changed(scan, manifest) or found.reasons
        return found

    assert plan().up_to_date and [s.source for s in plan().skipped] == ["vide.txt"]  # still unreadable: no change
    (docs_copy / "vide.txt").write_text("Maintenant un texte assez long pour être lu par amqa.", encoding="utf-8")
    assert plan().added == ("vide.txt",) and plan().reasons["vide.txt"] == "changed since it could not be read"
    (docs_copy / "zz.txt").write_text("Un nouveau fichier.", encoding="utf-8")
    (docs_copy / "001_3c9c59b90a3a1c43.txt").unlink()
    (docs_copy / "000_c8fb014e83a46547.txt").write_text("Un autre texte.", encoding="utf-8")
    found = plan()
    assert (found.added, found.changed, found.removed) == (("vide.txt", "zz.txt"), ("000_c8fb014e83a46547.txt",),
                                                           ("001_3c9c59b90a3a1c43.txt",))
    assert [f.source for f in found.to_read] == ["000_c8fb014e83a46547.txt", "vide.txt", "zz.txt"]  # scan order
    assert found.reasons == {"vide.txt": "changed since it could not be read", "zz.txt": "new file",
                             "000_c8fb014e83a46547.txt": "content changed",
                             "001_3c9c59b90a3a1c43.txt": "no longer in the folders"}
    # Another reader version: every file is read again, though none changed on disk.
    update_index(docs_copy, store, "hash")
    manifest = read_manifest(store)
    scan = planner_mod.scan(folders, manifest)
    again = planner_mod.compare(scan, manifest, reader_version=manifest.reader_version + 1)
    assert len(again.changed) == 6 and not planner_mod.has_changed(scan, manifest)
    assert again.reasons["zz.txt"].startswith("read by reader version")


def test_the_planner_hands_any_index_writer_its_batches_and_skipped_files(docs_copy):
    """write_files drives an IndexWriter (the seam the local store's writer implements): the first batch
    is small (searchable soon), the rest bigger, a file that cannot be read is skipped, not written, and
    vectors the writer already holds are not embedded again."""
    from amqa.embedders import get_embedder
    from amqa.index.planner import compare, scan, write_files
    from amqa.ingest.chunking import ChunkSettings
    from amqa.ingest.documents import DocumentFolder

    (docs_copy / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")

    class Recorder:
        def __init__(self, reused: set[str]):
            self.batches, self.skipped, self.reused = [], [], reused

        def reuse(self, planned):
            if planned.source in self.reused:
                n = len(planned.chunks)
                return np.zeros((n, 8), np.float32), np.zeros((len(planned.sentences), 8), np.float32)
            return None

        def remove(self, sources):
            raise AssertionError("write_files only writes")

        def write(self, batch):
            self.batches.append(batch)

        def skip(self, skipped):
            self.skipped.append(skipped.source)

        def finish(self):
            return None

    plan = compare(scan([DocumentFolder(docs_copy, "")], None), None)
    first = sorted(plan.to_read, key=lambda f: f.source)[0].source
    writer = Recorder({first})
    write_files(plan.to_read, writer, get_embedder("hash"), ChunkSettings(), first_batch=1, batch_chunks=10_000)
    assert writer.skipped == ["broken.pdf"]
    written = [f.source for b in writer.batches for f in b.files]
    assert sorted(written) == sorted(f.source for f in plan.to_read if f.source != "broken.pdf")
    assert len(writer.batches[0].files) == 1 and len(writer.batches) == 2  # one small batch, then the rest
    embedded = sum(b.embedded_texts for b in writer.batches)
    reused = next(f for b in writer.batches for f in b.files if f.source == first)
    assert not reused.chunk_vectors.any() and embedded < sum(len(f.chunks) + len(f.sentences)
                                                             for b in writer.batches for f in b.files)
