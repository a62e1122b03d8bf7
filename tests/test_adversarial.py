"""The adversarial catalogue (issue 14): each case an attacker or an unlucky user found, its input,
and what amqa must do. Real components: a loopback HTTP LLM server, the real CLI in a subprocess, real
files.

| case | input | expected |
|---|---|---|
| 1a | an LLM that streams a word every 0.5 s forever | the reply is cut off at the deadline (`--llm-timeout`, the whole reply), the HTTP request closed, the extractive answer shown with a warning |
| 1b | an LLM reply of 1 MB | cut off at `max_reply_chars`, extractive answer with a warning, in seconds |
| 7  | a question with invalid UTF-8 (CLI) or lone surrogates (API) | answered, the bad bytes replaced by U+FFFD, one warning; no traceback |
| 8  | UTF-16 text with a BOM | read (tests/test_formats.py) |
| 2  | a link to a file outside the folder | skipped with a reason (tests/test_formats.py) |
| 3  | a FIFO named `pipe.txt` in the folder | skipped at once with "not a regular file"; indexing and answering go on |
| 9  | an upload the index skips (a program renamed `prog.pdf`) | reported "not indexed" with the reason, the file not kept (also in the browser: tests/test_ui.py) |
| 1c | 4 endless LLM streams in the UI, then a user's extractive question | answered at once: extractive and LLM answers have their own slots (tests/test_ui.py) |
"""
import json
import os
from concurrent.futures import ThreadPoolExecutor
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amqa import Verification
from amqa.llm import OpenAIChat

sys.path.insert(0, str(Path(__file__).parent))
from fake_llm import ENDLESS, FakeLLM  # noqa: E402

QUESTION = "Combien d'apprentis sont formés à Arts et Métiers ?"


@pytest.fixture()
def llm():
    server = FakeLLM()
    yield server
    server.close()


def test_1a_an_endless_llm_stream_is_cut_off_at_the_deadline(hash_engine, llm):
    llm.reply(ENDLESS)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:  # fails, rather than hangs, if the deadline is lost
        answer = pool.submit(hash_engine.answer, QUESTION, generator=OpenAIChat(llm.url, "m", timeout=2.0)).result(30)
    took = time.perf_counter() - t0
    assert took < 6, f"took {took:.1f} s"
    assert answer.verification is Verification.FALLBACK and "took more than 2 s" in answer.verification_reason
    assert answer.citations and any("extractive" in w for w in answer.warnings)
    deadline = time.monotonic() + 3
    while not llm.server.hung_up and time.monotonic() < deadline:  # the server sees the request end
        time.sleep(0.1)
    assert llm.server.hung_up == 1


def test_1b_a_huge_reply_is_cut_off_at_the_size_cap(hash_engine, llm):
    llm.reply("mot " * 250_000)  # 1 MB
    chat = OpenAIChat(llm.url, "m", timeout=30.0, max_tokens=100)
    t0 = time.perf_counter()
    answer = hash_engine.answer(QUESTION, generator=chat)
    assert time.perf_counter() - t0 < 10
    assert answer.verification is Verification.FALLBACK and "800 characters" in answer.verification_reason


def test_1a_the_cli_with_an_endless_llm_ends_at_its_timeout(seed_store, llm):
    llm.reply(ENDLESS)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "amqa.cli", "ask", QUESTION, "--store", str(seed_store), "--json",
                          "--base-url", llm.url, "--model", "m", "--llm-timeout", "3"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert time.perf_counter() - t0 < 60  # 3 s of LLM plus the model's start, never forever
    data = json.loads(out.stdout)
    assert data["verification"] == "fallback" and data["citations"] and "Traceback" not in out.stderr


def test_7_a_question_with_lone_surrogates_is_answered_with_a_warning(hash_engine):
    answer = hash_engine.answer("Combien d'apprentis \udcff sont formés ?")
    assert "\ufffd" in answer.question and answer.citations
    assert any("not valid text" in w for w in answer.warnings)


def test_7_invalid_utf8_on_the_command_line_is_no_traceback(hash_store):
    question = "Combien d'apprentis \xff sont form\xe9s ?".encode("latin-1")  # not UTF-8
    out = subprocess.run([sys.executable.encode(), b"-m", b"amqa.cli", b"ask", question, b"--store",
                          str(hash_store).encode(), b"--embedder", b"hash"], capture_output=True, timeout=120)
    err = out.stderr.decode("utf-8", "replace")
    assert out.returncode == 0, err
    assert "Traceback" not in err and "not valid text" in err
    assert "apprentice" in out.stdout.decode("utf-8", "replace")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_3_a_fifo_in_the_folder_is_skipped_not_waited_for(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text("Le campus de Rabat ouvre en 2024.", encoding="utf-8")
    os.mkfifo(docs / "pipe.txt")
    out = subprocess.run([sys.executable, "-m", "amqa.cli", "ask", "Quand le campus de Rabat ouvre-t-il ?", "--docs",
                          str(docs), "--store", str(tmp_path / "store"), "--embedder", "hash"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "2024" in out.stdout
    index = subprocess.run([sys.executable, "-m", "amqa.cli", "index", "--docs", str(docs), "--store",
                            str(tmp_path / "store"), "--embedder", "hash"], capture_output=True, text=True, timeout=60)
    assert index.returncode == 0 and "skipped pipe.txt: not a regular file" in index.stdout


ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 64  # a program, as `cp /bin/true prog.pdf` gives


def test_9_an_upload_the_index_skips_is_reported_and_not_kept(docs_copy, tmp_path):
    pytest.importorskip("gradio", reason="pip install -e '.[test]'")
    from amqa import Engine
    from amqa.ui import ChatHandlers

    handlers = ChatHandlers(Engine(docs_copy, tmp_path / "store", "hash", progress=False))
    program, note = tmp_path / "upload-1", tmp_path / "upload-2"
    program.write_bytes(ELF)
    note.write_text("La médiathèque de Cluny prête des imprimantes 3D.", encoding="utf-8")
    view = handlers.upload([(str(program), "prog.pdf"), (str(note), "note.txt")], "en")
    message = view.message.replace("\\", "")
    assert "Indexed note.txt" in message and "Indexed prog.pdf" not in message
    assert "❌ not indexed 'prog.pdf'" in message and "not kept" in message
    assert not (docs_copy / "prog.pdf").exists() and (docs_copy / "note.txt").is_file()
    assert "prog.pdf" not in str(view.rows) and "prog.pdf" not in view.removable
