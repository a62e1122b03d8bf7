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
| 4  | `amqa index` on a full disk (RLIMIT_FSIZE: writes fail with EFBIG), then `amqa ask`; any failed update (a model that crashes) in a running engine | index: one line saying to free disk space, the old index intact; every ask answers from the last good index with a warning naming the failure; once writable, the next ask catches up |
| 5  | a damaged store: manifest truncated, not JSON, a list, of the wrong shape; vectors truncated or of another dimension; a chunk, sentence, text or sources file missing or truncated; `CURRENT` naming no index, or garbage | `load_index` raises `DamagedIndexError`; `ask` and `index` print one line naming `amqa index --store ... --rebuild`; `amqa index --rebuild` recovers |
| 6  | `amqa index` into a store that cannot be written (its parent a regular file, which stops root too; a read-only folder when not root) | one line quoting the store and saying what to do (`--store DIR`); `ask` on a read-only store still answers |
| 10 | a kill between writing a new index folder (and segment) and switching `CURRENT` | the next `amqa index`, even up to date, removes the folders no manifest names (under the store's lock) |
| 11 | loads without the lock by a descheduled reader while two processes rebuild in a loop | no load fails: retired indexes stay 60 s, and a load follows `CURRENT` when it moved |
| 12 | `amqa ask` and `amqa index` while another process holds the store's lock | ask answers at once from the current index, with a warning naming the pid (with no index yet, it waits like index); index says once "waiting for another amqa process indexing <store> (pid N)..." and then runs |
| debug | an error with `--debug` (before or after the command) or `AMQA_DEBUG=1` | the traceback, then the same one line; without: the one line only |
| 9  | an upload the index skips (a program renamed `prog.pdf`) | reported "not indexed" with the reason, the file not kept (also in the browser: tests/test_ui.py) |
| 1c | 4 endless LLM streams in the UI, then a user's extractive question | answered at once: extractive and LLM answers have their own slots (tests/test_ui.py) |

Round 2 (issue 22): before = main at 4259b05, measured with the command given (``--embedder hash``).

| case | input | before | after |
|---|---|---|---|
| 1 | `amqa index --docs D --store S` (or `AMQA_STORE=S amqa ask ...`), S holding `notes.tmp`, `backup.tmp/a`, `index-2024/report.txt` | rc 0, the three deleted | rc 1, one line: "'S' is not empty and holds no amqa index ... Pass another folder with --store DIR"; nothing written in S (not even `.lock`) |
| 1 | `amqa index --docs D --store D`, D holding `index-2023/rapport.txt`, `segments/seg-a/marche.md`, `brouillon.tmp` | rc 0, the three deleted before being indexed | rc 1, one line: "the index folder 'D' is the documents folder: they must be apart ..."; all kept |
| 1 | user files (`notes.tmp`, `backup.tmp/`, `index-2024/`, `segments/seg-a/`) put in a store, then `update_index` twice | deleted by the clean-up and the garbage collection | kept: only amqa's names (`index-<time>-<6 hex>`, `segments/seg-<time>-<8 hex>`, their `.tmp`, `CURRENT.tmp`, `manifest.json.tmp`) in a store marked by `amqa-store.json` are removed; a store of an older amqa (`CURRENT` naming an index folder) is adopted (marker written) |
| 4 | `loop.txt -> loop.txt` in D, `amqa index` (a first index existing) | rc 1, "unexpected RuntimeError: Symlink loop from ... report it", the index never updates | rc 0, "skipped loop.txt: a link loop (not read)", the rest indexed |
| 4 | links to `/proc/1/cwd`, into a folder the user cannot enter (`secret`, `secret.txt`), as nobody | rc 1, "Permission denied: '/proc/1/cwd'" (`secret`: "Permission denied: '.../secret'") | rc 0, each "a link that cannot be followed (Permission denied): not read", a new file added |
| 4 | `HOME=/tmp/h amqa index --docs /` (default store under `/tmp/h/.cache`: hidden, allowed) | rc 1 in 0.5 s: "Permission denied: '/proc/1/cwd'" | rc 0 in 311 s: 5,579 files indexed, 194,824 skipped (16 "folder not read", `proc/1/cwd`, `exe`, `root` "cannot be followed", `bin`, `lib`, `proc/self` "a link to a folder (not followed)") |
| 4 | a dangling link; links to a folder (inside, outside, `/proc/self/root`); a link to `../outside/x.txt`; `around.txt -> ../D/sub/cluny.txt` | dangling "unreadable: No such file ..."; folder links dropped silently | "a link to nothing", "a link to a folder (not followed)", "a link to a file outside the documents folder", `around.txt` read (inside) |
| 4 | a subfolder removed between its listing and its scan; a folder nested 1,500 deep | the first silently left out; the second "unexpected RecursionError" | "sub/: folder removed during the scan"; the deep file indexed (the walk uses a stack) |
| 12 | `amqa index --docs D --store D/store`, three times | "5 added", then "1 added ... 20 skipped", "1 added ... 39 skipped": never up to date | rc 1, one line: "the index folder 'D/store' is inside the documents folder 'D': they must be apart ..."; also for D inside the store; a store under a hidden folder of D (the default `~/.cache/amqa/stores/...` with `--docs ~`) allowed, up to date |
| 13 | `D/private/` mode 000, `amqa index` as nobody | rc 0, "5 added", nothing said | rc 0, "skipped private/: folder not read (Permission denied)", also when up to date |
| 5 | a document holding OSC 0 (window title), `ESC[2J` (clear screen), OSC 52 (clipboard write), U+009B (C1 CSI), a lone CR; its name `note\\n[2] faux.txt\\x1b[31m\\u202etxt.exe.txt`; a skipped `prog\\x1b]0;x\\x07\\n.pdf`; an LLM reply with the same escapes; `amqa ask` / `ask --json` / `index` (before = main at f9d1bc4) | printed raw: the title set, the screen cleared, a forged "[2] faux.txt" citation line, the line reversed | every CLI print goes through `amqa.text.printable`: `\\x1b]0;PWNED\\x07`, `\\x9b31m`, `\\r` shown as text; names on one line (`note\\n[2] faux.txt\\x1b[31m\\u202e...`); `--json` writes C1/bidi as `\\u009b`/`\\u202e` (the same JSON value); `test_r2_5_*` |
| 6 | the LLM endpoint answers 301, 302, 303, 307 or 308 to another origin (a second loopback server, `fake_llm.py`), with an API key set; engine and `amqa ask --base-url` | 301-303: the other server got `GET` with `Authorization: Bearer sk-...` and its reply was checked as the answer; 307/308: "the LLM server failed (HTTP 307):" | no redirect is followed (`llm._NoRedirects`): the other server gets nothing; the extractive answer with one warning "the LLM at URL redirected to URL2 (HTTP 302): not followed, so that the API key goes to no other server; if that is your LLM server, pass its URL with --base-url"; `test_r2_6_*` |
| 16 | `amqa eval --squad F` with F: not JSON, empty, not UTF-8, a list, no `data`, `data` an object or empty, no `paragraphs`/`qas`/`text`, a number as context, an empty context, `id`/`question` null, `answers` a string, `answer_start` "28", 900 or -1, no question; `--limit 0`; a bad `--docs-squad` | "unexpected TypeError/KeyError/ZeroDivisionError ... report it", "no document to index in .../squad/...", "question must be a string", or rc 0 with wrong scores (out-of-range answers, `--limit 0` asking everything) | rc 1, one line: "the SQuAD file 'F' holds a string at data[0].paragraphs[0].qas[0].answers, not a list: give a SQuAD-format JSON file, {...}" (the place in the file for each fault); nothing indexed; XQuAD's 4 files read as before (1,190 questions each); `test_r2_16_*` |
| 14 | questions in Chinese, Arabic, Japanese, Russian, Hindi, Korean on the seeds ("摩洛哥的新校区将在哪里开放？", "أين سيفتح الحرم الجامعي الجديد في المغرب؟" ...) and on two documents of the tests (French, English), real model | all detected as English; with English documents present the best sentence had to share a word with the question (a Chinese question was one "word", a Hindi one cut at its vowel signs): "The documents do not contain an answer to this question." for every one (best sentences 0.79-0.86); with a Latin name inside ("Arts et Métiers 有多少名学徒？") French | languages told by their script (`text.detect_language`: zh, ja, ko, ar, ru, hi; fa, uk, el, he, th fall back to English words), Han/kana/Hangul as character pairs and vowel signs kept in BM25 words; no document in the question's language: the cross-lingual floor: all 10 seeds questions answered, framed in their language ("根据文档：", "وفقًا للمستندات:"); off-topic ones abstain in it ("文档中没有这个问题的答案。"); 5 of 6 test questions answered (the Japanese one 0.776, under the 0.78 floor: abstains in Japanese); `amqa eval` seeds 0.895 and follow-ups 0.875 key facts, every answer the same as before; `test_r2_14_*` |
| 7 | 500 questions sent by one tab (`ChatHandlers.enqueue`), then its answering runs (`test_r2_7_*`); `python bench/ui_flood.py` (4 tabs sending 500 at a time, hash embedder, another user asking meanwhile) | all 500 kept waiting; one run answered them all in one slot while the tab kept sending: with the bench, 2,001 accepted, the other user's one question waited 928 s | 4 wait (`UILimits.waiting`), the 496 others refused: "4 questions are already waiting: wait for their answers (or press Stop)...", the question put back in the box; while a later run of the tab waits in Gradio's queue, the running one gives up its slot after each answer; bench: 20 accepted, 3,620 refused, the other user's 12 questions waited p50 0.55 s, max 0.86 s |
| 8 | a 20 MB question in the chat (`test_r2_8_*`); 5 questions and 5 conversations with `UILimits(turns=3, conversations=2)` | the whole 20 MB in the pending list, the history and every reply; turns and conversations unbounded | cut to 1,000 characters where it enters, "Your question was cut to its first 1,000 characters (it had 20,000,033)..."; every reply under 50 kB; the newest 3 turns and 2 conversations kept |
| 9 | a real server (`test_r2_9_*`): gradio_client `predict(fn_index=<delete>)`; `POST /gradio_api/call/delete`, `/call/upload`, `/call/reindex`, `/run/...`; the delete step through the page's queue protocol in a tab that asked no confirmation; a confirmed tab whose request names another file | all public (auto-named `lambda_N`, `upload`, `reindex`), two calls deleted a document; the delete step deleted what the request named | not listed and refused by gradio_client ("Invalid function index"); 404 "'delete' is not part of amqa's API: use the page" (Gradio still ran private events by name: refused by amqa's middleware); "Pick a document to delete first", nothing deleted; the source confirmed in that tab is deleted (held in its server state), the one named ignored |
| 10 | a real server with `UILimits(upload_files=3, upload_bytes=100_000, cache_every=1, cache_age=2)` (`test_r2_10_*`): 3 files uploaded and handled (one accepted, one bad name, one bad type); 5 at once; one of 150 kB; 30 x 90 kB in one request; one uploaded and never handled | every temp copy left in Gradio's cache (30 x 1 MB still there 23 min later); 5 taken; the size limit always 10 MB (`build_app(max_upload_bytes=)` not passed to Gradio); 1,000 files a request; the cache never cleaned | each copy removed once handled, accepted or refused; "refused 5 files: at most 3 in one upload"; 413 from Gradio's `max_file_size`; 413 "refused: an upload holds at most 3 files of 100 kB each" before the body is read (411 without a length); the unhandled one removed by `Blocks(delete_cache=...)` within seconds (default: every 5 min, files over 15 min) |
| 15 | the Documents tab over 100,000 files (`python bench/docs_tab.py --files 100000`, a visit as the page makes it, over HTTP); 250 files through `ChatHandlers.documents` (`test_r2_15_*`) | 11.7 MB sent, 6.7 s of server CPU and 16.6 s a visit (load average 9-15); every row and every file in the delete list | 24 kB, 0.06 s of server CPU, 0.22 s: the first 200 rows (`UILimits.docs_rows`) with the counts ("the first 200 shown: type in the filter box..."), a filter box (title or file, any case: 13 kB), the listing made again only when the index changes; the skipped files named up to 20, the rest counted |
| 17 | 4,014 hostile upload names (`a..b.txt`, `..%2f..%2fevil.txt`, `..`, `%2e`, `/`, `\\`, control and bidi characters, long names; seeded) through `safe_upload_name` (`test_r2_17_*`) | the advice repeats the refused name (`e.g. 'a..b.txt'`, `e.g. '..%2f..%2fevil.txt'`), a newline in the name breaks the one-line message | every advice is a name the same check accepts (`a.b.txt`, `evil.txt`); no advice for a type amqa does not read; control and bidi characters quoted as `\n`, `\u202e` |
| 2 | `notes.md`: `---` then 30,000 `title: x` lines, never closed (270 kB); `test_r2_2_an_unclosed_front_matter_full_of_title_lines_is_read_at_once` | over 60 s (the test's child killed at 20 s); 72 kB 13.7 s | 0.02 s (`bench/readers.py`): the front matter is scanned line by line within 16 kB (`ReadLimits.front_matter_chars`), titled by its first line |
| 2 | 1 M dots with no white space after them (`test_r2_2_a_million_dots_split_into_sentences_in_linear_time`); every regex of readers.py, text.py, chunking.py timed on runs of each special character | `split_sentences`: 20,000 dots 24 s (quadratic; killed at 30 s) | 1 M dots 0.19 s: `_BOUNDARY` starts only at a run's first mark (same matches on 50,000 random strings and the seeds); the other quadratic ones (`_CODE_SPAN`, `_LINK`, `_CREDIT_TRAILER`) run only on a chunk (at most `ChunkSettings.size` characters) |
| 3 | .docx, .odt, .pptx, .xlsx by their libraries with one part inflated to 3 MB (530-590 times its compressed size); `test_r2_3_a_decompression_bomb_is_skipped_before_it_is_parsed`, `bench/readers.py` for the issue's sizes | read and indexed (the issue's: 51 s and 500 MB, 32 s and 774 MB, 26 s) | skipped in under 10 ms: "part 'word/document.xml' is 534 times its compressed size, more than 100 (ReadLimits.ratio): a possible decompression bomb: not read"; also listed in `update_index`'s skipped (`test_r2_3_a_bomb_in_the_folder_is_listed_as_skipped_and_the_rest_indexed`) |
| 3 | an EPUB whose spine lists its chapter 20 times (`test_r2_3_an_epub_listing_its_chapter_20_times_reads_it_once`) | the chapter read and indexed 20 times (the issue's 4.4 kB: 66 s, 2.7 GB) | read once; inflated, skipped as a bomb |
| 3 | a .docx whose document.xml is bzip2 (200 MB of spaces) and whose headers declare 10 kB (`test_r2_3_a_part_whose_header_lies_about_its_size_is_never_decompressed`) | zipfile decompressed all 200 MB, then "Bad CRC-32" | "uses compression method 12 (only stored and deflated are read): not read", nothing decompressed; deflated parts are also decompressed once in 1 MB pieces to check their real size and CRC before parsing |
| 3 | `ReadLimits(text_chars=0)`, `ratio=-1`, ...; a 3,000-paragraph .docx (`test_r2_3_limits_are_checked_where_they_enter_and_large_real_documents_pass`) | no limits | one line quoting the bad value; the large document read whole (and refused under tighter limits, naming the limit) |
| 11 | a 10 M-character log named .txt (`test_r2_11_a_file_with_more_text_than_the_limit_is_skipped_with_what_to_do`); a 40 MB text (`bench/readers.py --index`) | read and indexed (the issue's 40 MB: 2.78 GB) | skipped: "more than 10,000,000 characters of text (ReadLimits.text_chars): not indexed; split it into smaller files to index it"; a file read whole is read up to 40 MB (`ReadLimits.file_bytes`), never further; HTML, RTF and e-mail checked on their text |
| 18 | 200 kB of random bytes without NUL named `notes.txt`; cp1252, Latin-1, UTF-8 French and a colour-coded log (`test_r2_18_random_bytes_named_txt_are_skipped_and_latin_text_still_reads`) | indexed as Latin-1 text | skipped: "binary content (24% control characters) in a text file: not read" (over `ReadLimits.control_share`, 10%, in 64 windows spread over the file); the others read as before |
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
from amqa.writers.llm.models import OpenAIChat

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
    out = subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "ask", QUESTION, "--store", str(seed_store), "--json",
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
    out = subprocess.run([sys.executable.encode(), b"-m", b"amqa.frontends.cli", b"ask", question, b"--store",
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
    out = subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "ask", "Quand le campus de Rabat ouvre-t-il ?", "--docs",
                          str(docs), "--store", str(tmp_path / "store"), "--embedder", "hash"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "2024" in out.stdout
    index = subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "index", "--docs", str(docs), "--store",
                            str(tmp_path / "store"), "--embedder", "hash"], capture_output=True, text=True, timeout=60)
    assert index.returncode == 0 and "skipped pipe.txt: not a regular file" in index.stdout


# --- the store and the CLI (cases 4, 5, 6, 10, 11, 12, debug) ------------------------------------

def _amqa(*args: str, env: dict | None = None, limit_bytes: int | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, with the hash embedder; ``limit_bytes``: no file it writes may grow
    past that size (RLIMIT_FSIZE, SIGXFSZ ignored): its writes then fail with EFBIG, as on a full disk."""
    def full_disk() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-m", "amqa.frontends.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "AMQA_EMBEDDER": "hash", **(env or {})},
                          preexec_fn=full_disk if limit_bytes is not None else None)


def _one_line_error(run: subprocess.CompletedProcess) -> str:
    """The run failed with one line on stderr, no traceback; that line."""
    assert run.returncode == 1, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and run.stderr.startswith("amqa: error: "), run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    return run.stderr


def _big_document(path: Path, sentences: int = 3000) -> None:
    """A document of about 100 characters a sentence, lexically varied."""
    import random

    rng = random.Random(1)
    words = "usinage fonderie campus apprentis robot alliage métal école ingénieur atelier soudure".split()
    path.write_text("\n".join(" ".join(rng.choice(words) for _ in range(15)) + "." for _ in range(sentences)),
                    encoding="utf-8")


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="RLIMIT_FSIZE needs POSIX")
def test_4_a_full_disk_ends_index_in_one_line_and_ask_answers_from_the_last_good_index(docs_copy, tmp_path):
    from amqa.embedders import HashEmbedder
    from amqa.index.local.store import load_index, update_index

    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    _big_document(docs_copy / "big.txt")  # its vectors (over 256 KB) cannot be written below the limit
    args = ("--docs", str(docs_copy), "--store", str(store))
    error = _one_line_error(_amqa("index", *args, limit_bytes=100_000))
    assert "File too large" in error and "disk space" in error and "amqa index" in error, error
    assert "big.txt" not in load_index(store, HashEmbedder()).files, "the old index stays as it was"
    for _ in range(2):  # every later ask catches up, fails again, and answers from the last good index
        run = _amqa("ask", QUESTION, *args, "--json", limit_bytes=100_000)
        assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
        answer = json.loads(run.stdout)
        assert answer["citations"], answer
        assert any("last good index" in w and "File too large" in w for w in answer["warnings"]), answer["warnings"]
    run = _amqa("ask", QUESTION, *args, "--debug", limit_bytes=100_000)  # --debug shows why, as AMQA_DEBUG=1 does
    assert run.returncode == 0 and "Traceback (most recent call last)" in run.stderr, run.stderr
    run = _amqa("ask", QUESTION, *args, "--json")  # space again: the index catches up
    assert run.returncode == 0 and not json.loads(run.stdout)["warnings"], run.stderr
    assert "big.txt" in load_index(store, HashEmbedder()).files


def test_4_any_failed_update_leaves_a_running_engine_answering_with_a_warning(docs_copy, tmp_path):
    """Not only a write error: whatever fails in the update (here the embedding model, a RuntimeError)."""
    from amqa import Engine
    from amqa.embedders import HashEmbedder

    class Crashing(HashEmbedder):
        crash = False
        attempts = 0

        def embed_batch(self, texts, kind):
            if self.crash and kind == "passage":
                self.attempts += 1
                raise RuntimeError("the model crashed (out of memory)")
            return super().embed_batch(texts, kind)

    # A new engine whose very first update fails answers too, and does not try again on the same files
    # at each question.
    store = tmp_path / "first"
    Engine(docs_copy, store, "hash", progress=False).index()
    (docs_copy / "cluny.txt").write_text("Le laboratoire de Cluny étudie les alliages légers depuis 1901.",
                                         encoding="utf-8")
    failing = Crashing()
    failing.crash = True
    engine = Engine(docs_copy, store, failing, progress=False)
    for _ in range(3):
        assert any("last good index" in w for w in engine.answer(QUESTION).warnings)
    assert failing.attempts == 1, failing.attempts
    (docs_copy / "cluny.txt").unlink()

    embedder = Crashing()
    engine = Engine(docs_copy, tmp_path / "store", embedder, progress=False)
    assert not engine.answer(QUESTION).warnings
    embedder.crash = True
    (docs_copy / "cluny.txt").write_text("Le laboratoire de Cluny étudie les alliages légers depuis 1901.",
                                         encoding="utf-8")
    for _ in range(2):
        answer = engine.answer(QUESTION)
        assert answer.citations and any("last good index" in w and "model crashed" in w for w in answer.warnings), \
            answer.warnings
    gone = answer.citations[0].source
    (docs_copy / gone).unlink()  # the index cannot catch up (cluny.txt still crashes it): still never cited
    answer = engine.answer(QUESTION)
    assert gone not in {h.chunk.source for h in answer.hits} and any("last good index" in w for w in answer.warnings)
    embedder.crash = False
    (docs_copy / "cluny.txt").write_text("Le laboratoire de Cluny étudie les alliages légers depuis 1902.",
                                         encoding="utf-8")
    answer = engine.answer("Que étudie le laboratoire de Cluny depuis 1902 ?")
    assert not answer.warnings and answer.citations[0].source == "cluny.txt"


OLD_SEGMENT = " (a segment without recorded sizes)"


def _damage(store: Path, kind: str) -> None:
    """Damage the index in ``store`` as a crash, a full disk or a careless hand would."""
    import numpy as np

    from amqa.index.local.store import current_index_dir

    manifest = current_index_dir(store) / "manifest.json"
    segment = store / "segments" / json.loads(manifest.read_text(encoding="utf-8"))["segments"][0]
    if kind.endswith(OLD_SEGMENT):  # a segment written before file sizes were recorded: the shapes are checked
        info = json.loads((segment / "segment.json").read_text(encoding="utf-8"))
        assert info.pop("sizes")
        (segment / "segment.json").write_text(json.dumps(info), encoding="utf-8")
        kind = kind[:-len(OLD_SEGMENT)]

    def truncate(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])

    if kind == "manifest truncated":
        truncate(manifest)
    elif kind == "manifest not JSON":
        manifest.write_bytes(b"\x00\xff garbage")
    elif kind == "manifest a list":
        manifest.write_text("[]", encoding="utf-8")
    elif kind == "manifest without segments":
        data = json.loads(manifest.read_text(encoding="utf-8"))
        data["segments"] = {"a": 1}
        manifest.write_text(json.dumps(data), encoding="utf-8")
    elif kind == "manifest file records wrong":
        data = json.loads(manifest.read_text(encoding="utf-8"))
        data["files"] = {name: ["not", "a", "record"] for name in data["files"]}
        manifest.write_text(json.dumps(data), encoding="utf-8")
    elif kind == "vectors truncated":
        truncate(segment / "chunks.npy")
    elif kind == "vectors of another dimension":
        n = np.load(segment / "sentences.npy").shape[0]
        np.save(segment / "sentences.npy", np.zeros((n, 128), dtype=np.float32))
    elif kind == "chunk file missing":
        (segment / "chunk_meta.npy").unlink()
    elif kind == "sentence file truncated":
        truncate(segment / "sent_meta.npy")
    elif kind == "texts truncated":
        truncate(segment / "texts.bin")
    elif kind == "texts missing":
        (segment / "texts.bin").unlink()
    elif kind == "segment list truncated":
        truncate(segment / "sources.json")
    elif kind == "CURRENT names no index":
        (store / "CURRENT").write_text("index-20250101T000000-gone00\n", encoding="utf-8")
    elif kind == "manifest counts wrong":
        data = json.loads(manifest.read_text(encoding="utf-8"))
        data["counts"]["chunks"] += 1
        manifest.write_text(json.dumps(data), encoding="utf-8")
    elif kind == "CURRENT garbage":
        (store / "CURRENT").write_bytes(b"../../\xff\x00")
    else:
        raise AssertionError(kind)


DAMAGE = ["manifest truncated", "manifest not JSON", "manifest a list", "manifest without segments",
          "manifest file records wrong", "vectors truncated", "vectors of another dimension", "chunk file missing",
          "sentence file truncated", "texts truncated", "texts missing", "segment list truncated",
          "CURRENT names no index", "CURRENT garbage", "manifest counts wrong",
          "vectors of another dimension" + OLD_SEGMENT, "texts truncated" + OLD_SEGMENT,
          "vectors truncated" + OLD_SEGMENT]


@pytest.mark.parametrize("kind", DAMAGE)
def test_5_a_damaged_store_is_refused_when_loaded_with_the_rebuild_command(docs_copy, tmp_path, kind):
    from amqa.embedders import HashEmbedder
    from amqa.errors import DamagedIndexError
    from amqa.index.local.store import load_index, update_index

    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    _damage(store, kind)
    with pytest.raises(DamagedIndexError, match=r"damaged.*amqa index --store .* --rebuild"):
        load_index(store, HashEmbedder())
    assert update_index(docs_copy, store, "hash", rebuild=True).index is not None


@pytest.mark.slow  # three CLI runs per kind of damage
@pytest.mark.parametrize("kind", DAMAGE)
def test_5_a_damaged_store_is_one_line_for_ask_and_index_and_rebuild_recovers(docs_copy, tmp_path, kind):
    from amqa.index.local.store import update_index

    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    _damage(store, kind)
    args = ("--docs", str(docs_copy), "--store", str(store))
    for run in (_amqa("ask", QUESTION, *args), _amqa("index", *args)):
        error = _one_line_error(run)
        assert "damaged" in error and f"amqa index --store {store} --rebuild" in error, error
    rebuilt = _amqa("index", *args, "--rebuild")
    assert rebuilt.returncode == 0 and "5 added" in rebuilt.stdout, rebuilt.stderr
    run = _amqa("ask", QUESTION, *args)
    assert run.returncode == 0 and "\n[1] " in run.stdout, run.stderr


def test_6_index_into_a_store_that_cannot_be_written_is_one_line(docs_copy, tmp_path):
    """Works as root too: the store's parent is a regular file, so nothing can be created in it."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    store = blocker / "store"
    error = _one_line_error(_amqa("index", "--docs", str(docs_copy), "--store", str(store)))
    assert f"'{store}'" in error and "--store" in error, error
    error = _one_line_error(_amqa("ask", QUESTION, "--docs", str(docs_copy), "--store", str(store)))
    assert f"'{store}'" in error, error


def _read_only(paths: list[Path], on: bool) -> None:
    """Make ``paths`` read-only (``on``) or writable again: by their mode, or for root, whom modes do
    not stop, with the immutable attribute (skips the test where chattr does not work)."""
    if os.geteuid() != 0:
        for path in paths:
            path.chmod(path.stat().st_mode & ~0o222 if on else path.stat().st_mode | 0o200)
        return
    try:
        done = subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], capture_output=True, text=True)
    except FileNotFoundError:
        pytest.skip("root ignores file modes, and chattr is not installed")
    if done.returncode != 0:
        if on:
            subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True)
            pytest.skip(f"root ignores file modes, and chattr fails here: {done.stderr.strip()}")
        raise AssertionError(done.stderr)


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_6_a_read_only_store_index_is_one_line_and_ask_still_answers(docs_copy, tmp_path):
    from amqa.index.local.store import update_index

    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    (docs_copy / "new.txt").write_text("Le campus de Cluny ouvre une fonderie pédagogique.", encoding="utf-8")
    paths = [store, *store.rglob("*")]
    _read_only(paths, True)
    try:
        args = ("--docs", str(docs_copy), "--store", str(store))
        error = _one_line_error(_amqa("index", *args))
        assert ("Permission denied" in error or "Operation not permitted" in error) and "writable" in error, error
        run = _amqa("ask", QUESTION, *args, "--json")
        assert run.returncode == 0 and json.loads(run.stdout)["citations"], run.stderr
        assert any("last good index" in w for w in json.loads(run.stdout)["warnings"]), run.stdout
        (docs_copy / "new.txt").unlink()  # the folder as indexed: nothing to write, so no warning
        run = _amqa("ask", QUESTION, *args, "--json")
        assert run.returncode == 0 and not json.loads(run.stdout)["warnings"], run.stdout
    finally:
        _read_only(paths, False)


KILL_AT_SWITCH = """
import os, signal, sys
import amqa.index.local.store as store_mod
real = os.replace
def replace(src, dst, *args, **kwargs):
    if str(dst).endswith("CURRENT"):  # killed after the new index folder is in place, before the switch
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *args, **kwargs)
store_mod.os.replace = replace
store_mod.update_index(sys.argv[1], sys.argv[2], "hash")
"""


def test_10_leftovers_of_a_killed_update_are_removed_by_the_next_index(docs_copy, tmp_path):
    from amqa.embedders import HashEmbedder
    from amqa.index.local.store import current_index_dir, load_index, update_index

    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    before = {p.name for p in store.iterdir()} | {p.name for p in (store / "segments").iterdir()}
    (docs_copy / "cluny.txt").write_text("Le laboratoire de Cluny étudie les alliages légers.", encoding="utf-8")
    killed = subprocess.run([sys.executable, "-c", KILL_AT_SWITCH, str(docs_copy), str(store)], timeout=60)
    assert killed.returncode == -9
    left = ({p.name for p in store.iterdir()} | {p.name for p in (store / "segments").iterdir()}) - before
    assert any(n.startswith("index-") for n in left) and any(n.startswith("seg-") for n in left), left
    (docs_copy / "cluny.txt").unlink()  # the folder is as the index has it: the next index is up to date
    run = _amqa("index", "--docs", str(docs_copy), "--store", str(store))
    assert run.returncode == 0 and "up to date" in run.stdout, run.stderr
    after = {p.name for p in store.iterdir()} | {p.name for p in (store / "segments").iterdir()}
    assert after == before, ("leftovers no manifest names", after - before)
    assert current_index_dir(store) is not None and len(load_index(store, HashEmbedder()).files) == 5


LOADER = """
import pathlib, random, sys, time
import amqa.index.local.store as store_mod
from amqa.embedders import HashEmbedder
from amqa.index.local.store import load_index
# A reader on a loaded machine: descheduled for up to PAUSE s after reading CURRENT and before opening
# each segment, so that two rebuilds can run inside its load (on an idle machine: 1 load in 192,225).
pause, rng = float(sys.argv[3]), random.Random(0)
read_text, open_segment = pathlib.Path.read_text, store_mod.Segment.__init__
def slow_read_text(self, *args, **kwargs):
    text = read_text(self, *args, **kwargs)
    if self.name == "CURRENT":
        time.sleep(rng.uniform(0, pause))
    return text
def slow_open_segment(self, folder):
    time.sleep(rng.uniform(0, pause))
    open_segment(self, folder)
pathlib.Path.read_text, store_mod.Segment.__init__ = slow_read_text, slow_open_segment
store, until = sys.argv[1], time.monotonic() + float(sys.argv[2])
loads = errors = 0
while time.monotonic() < until:
    try:
        index = load_index(store, HashEmbedder())
        assert index is not None and len(index.chunks) > 0, "no index"
        index.chunks[len(index.chunks) - 1].text
    except Exception as exc:
        errors += 1
        print(type(exc).__name__, exc, file=sys.stderr)
    loads += 1
print(loads, errors)
"""

REBUILDER = """
import sys, time
from amqa.index.local.store import update_index
until = time.monotonic() + float(sys.argv[3])
while time.monotonic() < until:
    update_index(sys.argv[1], sys.argv[2], "hash", rebuild=True)
"""


def test_11_loads_without_the_lock_never_fail_while_rebuilds_run(docs_copy, tmp_path):
    from amqa.index.local.store import update_index

    store = tmp_path / "store"
    for p in list(docs_copy.iterdir())[2:]:  # a small folder: many rebuilds, each a new index and segment
        p.unlink()
    update_index(docs_copy, store, "hash")
    seconds = "8"
    writers = [subprocess.Popen([sys.executable, "-c", REBUILDER, str(docs_copy), str(store), seconds])
               for _ in range(2)]
    loader = subprocess.run([sys.executable, "-c", LOADER, str(store), seconds, "0.12"], capture_output=True,
                            text=True, timeout=60)
    for w in writers:
        assert w.wait(timeout=60) == 0
    loads, errors = (int(x) for x in loader.stdout.split())
    assert loads > 10 and errors == 0, (loads, errors, loader.stderr[-2000:])


HOLD_LOCK = """
import fcntl, os, sys, time
with open(os.path.join(sys.argv[1], ".lock"), "a+") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    f.seek(0); f.truncate(); f.write(str(os.getpid())); f.flush()
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="advisory locks are POSIX")
def test_12_ask_says_who_holds_the_index_lock_and_answers_from_the_current_index(docs_copy, tmp_path):
    from amqa.index.local.store import update_index

    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    (docs_copy / "cluny.txt").write_text("Le laboratoire de Cluny étudie les alliages légers.", encoding="utf-8")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(store), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        args = ("--docs", str(docs_copy), "--store", str(store))
        t0 = time.monotonic()
        run = _amqa("ask", QUESTION, *args, "--json", timeout=25)
        assert time.monotonic() - t0 < 15, "answered without waiting for the indexing process"
        assert run.returncode == 0 and json.loads(run.stdout)["citations"], run.stderr
        assert f"pid {holder.pid}" in " ".join(json.loads(run.stdout)["warnings"]), run.stdout
        index = subprocess.Popen([sys.executable, "-m", "amqa.frontends.cli", "index", *args], stderr=subprocess.PIPE,
                                 text=True, env={**os.environ, "AMQA_EMBEDDER": "hash"})
        assert index.stderr is not None
        line = index.stderr.readline()  # `amqa index` waits its turn, and says for what, once
        assert line == f"amqa: waiting for another amqa process indexing {store} (pid {holder.pid})...\n", line
        holder.kill()
        assert index.wait(timeout=30) == 0 and index.stderr.read() == ""
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="advisory locks are POSIX")
def test_12_ask_over_a_store_without_an_index_waits_for_the_process_building_it(docs_copy, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(store), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        ask = subprocess.Popen([sys.executable, "-m", "amqa.frontends.cli", "ask", QUESTION, "--docs", str(docs_copy),
                                "--store", str(store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "AMQA_EMBEDDER": "hash"})
        assert ask.stderr is not None
        line = ask.stderr.readline()  # nothing to answer from: it waits, and says for what
        assert line == f"amqa: waiting for another amqa process indexing {store} (pid {holder.pid})...\n", line
        holder.kill()
        out, err = ask.communicate(timeout=60)
        assert ask.returncode == 0 and "\n[1] " in out and err == "", err
    finally:
        holder.kill()
        holder.wait()


def test_debug_shows_the_traceback_of_an_error_otherwise_one_line(docs_copy, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    args = ("index", "--docs", str(docs_copy), "--store", str(blocker / "store"))
    _one_line_error(_amqa(*args))
    for run in (_amqa("--debug", *args), _amqa(*args, "--debug"), _amqa(*args, env={"AMQA_DEBUG": "1"})):
        assert run.returncode == 1 and "Traceback (most recent call last)" in run.stderr, run.stderr
        assert run.stderr.rstrip().splitlines()[-1].startswith("amqa: error: "), run.stderr


# --- the web UI (cases 9, 1c) -------------------------------------------------------------------------

ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 64  # a program, as `cp /bin/true prog.pdf` gives


def test_9_an_upload_the_index_skips_is_reported_and_not_kept(docs_copy, tmp_path):
    pytest.importorskip("gradio", reason="pip install -e '.[test]'")
    from amqa import Engine
    from amqa.frontends.ui import DocumentHandlers

    handlers = DocumentHandlers(Engine(docs_copy, tmp_path / "store", "hash", progress=False))
    program, note = tmp_path / "upload-1", tmp_path / "upload-2"
    program.write_bytes(ELF)
    note.write_text("La médiathèque de Cluny prête des imprimantes 3D.", encoding="utf-8")
    view = handlers.upload([(str(program), "prog.pdf"), (str(note), "note.txt")], "en")
    message = view.message.replace("\\", "")
    assert "Indexed note.txt" in message and "Indexed prog.pdf" not in message
    assert "❌ not indexed 'prog.pdf'" in message and "not kept" in message
    assert not (docs_copy / "prog.pdf").exists() and (docs_copy / "note.txt").is_file()
    assert "prog.pdf" not in str(view.rows) and "prog.pdf" not in view.removable


# --- round 2: the store and the scan (issue 22, cases 1, 4, 12, 13) ------------------------------------

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
NOBODY = 65534  # the unprivileged user the CLI runs as when the tests run as root (as in CI)
#: What a user kept in a folder before giving it to amqa as its store (issue 22, case 1): path -> text.
USER_FILES = {"notes.tmp": "mes notes", "backup.tmp/a.txt": "sauvegarde", "index-2024/report.txt": "rapport 2024"}
#: A documents folder that is also given as the store (case 1): its documents with amqa-like names.
DOCS_LIKE_A_STORE = {"index-2023/rapport.txt": "Le rapport annuel dit que le chiffre d'affaires a doublé.",
                     "segments/seg-a/marche.md": "# Marché\n\nLe marché couvert ouvre le jeudi matin.",
                     "brouillon.tmp": "Un brouillon."}


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


def _intact(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        assert (folder / name).read_text(encoding="utf-8") == text, f"{name} was lost"


def test_r2_1_a_folder_that_is_not_a_store_is_refused_and_nothing_in_it_changes(docs_copy, tmp_path):
    from amqa.errors import InvalidInputError
    from amqa.index.local.store import update_index

    folder = tmp_path / "my-folder"
    _write(folder, USER_FILES)
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    with pytest.raises(InvalidInputError, match=r"'.*my-folder' is not empty and holds no amqa index.*--store DIR"):
        update_index(docs_copy, folder, "hash")
    _intact(folder, USER_FILES)
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before, "not even a lock file written"
    # A folder holding only a store is no user's folder: the web UI's store of the seeds with the library
    # is `with-library/` inside a --store folder, which the command line then uses for the seeds alone.
    store = tmp_path / "store"
    update_index(docs_copy, store / "with-library", "hash")
    assert len(update_index(docs_copy, store, "hash").added) == 5


def test_r2_1_a_store_keeps_what_amqa_did_not_write_and_an_older_store_is_adopted(docs_copy, tmp_path):
    from amqa.index.local.store import update_index

    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    _write(store, {**USER_FILES, "segments/seg-a/marche.md": "du marché", "segments/seg-b.tmp": "à moi"})
    (docs_copy / "cluny.txt").write_text("Le laboratoire de Cluny étudie les alliages légers.", encoding="utf-8")
    assert update_index(docs_copy, store, "hash").added == ["cluny.txt"]  # a new index: garbage collected
    assert update_index(docs_copy, store, "hash").up_to_date  # the clean-up of every update
    _intact(store, {**USER_FILES, "segments/seg-a/marche.md": "du marché", "segments/seg-b.tmp": "à moi"})
    from amqa.index.local.store import MARKER

    assert (store / MARKER).is_file(), "a new store is marked as amqa's"
    (store / MARKER).unlink()  # as an older amqa left it: CURRENT names an index folder with its manifest
    (docs_copy / "cluny.txt").unlink()
    assert update_index(docs_copy, store, "hash").removed == ["cluny.txt"]
    assert (store / MARKER).is_file(), "an index of an older amqa is adopted"
    _intact(store, USER_FILES)


@pytest.mark.slow  # the CLI in subprocesses
def test_r2_1_the_cli_refuses_a_folder_that_is_not_a_store_in_one_line(docs_copy, tmp_path):
    folder = tmp_path / "my-folder"
    _write(folder, USER_FILES)
    error = _one_line_error(_amqa("ask", QUESTION, "--docs", str(docs_copy), env={"AMQA_STORE": str(folder)}))
    assert f"'{folder}' is not empty and holds no amqa index" in error and "--store DIR" in error, error
    _intact(folder, USER_FILES)

    docs = tmp_path / "docs-and-store"  # the second loss: the store is the documents folder
    _write(docs, {"note.txt": "Le campus de Cluny a une fonderie.", **DOCS_LIKE_A_STORE})
    error = _one_line_error(_amqa("index", "--docs", str(docs), "--store", str(docs)))
    assert f"the index folder '{docs}' is the documents folder" in error and "--store DIR" in error, error
    _intact(docs, DOCS_LIKE_A_STORE)


def test_r2_12_a_store_and_a_documents_folder_may_not_contain_each_other(docs_copy, tmp_path, monkeypatch):
    from amqa import Engine
    from amqa.errors import InvalidInputError
    from amqa.index.local.store import update_index

    for store, words in ((docs_copy, "is the documents folder"), (docs_copy / "store", "is inside the documents folder"),
                         (docs_copy.parent, "is inside the index folder")):
        with pytest.raises(InvalidInputError, match=words) as refused:
            update_index(docs_copy, store, "hash")
        assert f"'{docs_copy}'" in str(refused.value) and "--store DIR" in str(refused.value)
    assert not (docs_copy / "store").exists() and not (docs_copy / ".lock").exists()
    # Under a hidden folder of the documents folder a store is never scanned: allowed, and up to date.
    hidden = docs_copy / ".cache" / "store"
    assert len(update_index(docs_copy, hidden, "hash").added) == 5
    assert update_index(docs_copy, hidden, "hash").up_to_date
    # The default store with the home folder as documents folder: ~/.cache/amqa/stores/..., hidden.
    home = tmp_path / "home"
    (docs_copy / ".cache").rename(tmp_path / "elsewhere")
    docs_copy.rename(home)
    for var in ("AMQA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    engine = Engine(home, embedder="hash", progress=False)
    assert engine.store.is_relative_to(home / ".cache") and len(engine.index().added) == 5
    assert engine.index().up_to_date


@pytest.mark.slow  # the CLI in subprocesses
def test_r2_12_the_cli_refuses_a_store_inside_the_documents_folder_in_one_line(docs_copy):
    store = docs_copy / "store"
    error = _one_line_error(_amqa("index", "--docs", str(docs_copy), "--store", str(store)))
    assert f"the index folder '{store}' is inside the documents folder '{docs_copy}'" in error, error
    assert not store.exists()


def test_r2_4_bad_links_are_skipped_with_a_reason_and_the_index_keeps_updating(docs_copy, tmp_path):
    from amqa.index.local.store import update_index

    store = tmp_path / "store"
    update_index(docs_copy, store, "hash")
    outside = tmp_path / "outside"
    _write(outside, {"secret.txt": "Un secret hors du dossier."})
    _write(docs_copy, {"sub/cluny.txt": "Le laboratoire de Cluny étudie les alliages légers."})
    links = {"loop.txt": "loop.txt", "dangling.txt": "nothing.txt", "out.txt": "../outside/secret.txt",
             "outside-folder": "../outside", "inside-folder": "sub", "around.txt": f"../{docs_copy.name}/sub/cluny.txt"}
    if Path("/proc/self/root").exists():
        links["root"] = "/proc/self/root"  # a link to "/", as `--docs /` meets in /proc
    for name, target in links.items():
        (docs_copy / name).symlink_to(target)
    report = update_index(docs_copy, store, "hash")
    reasons = {s.source: s.reason for s in report.skipped}
    assert report.added == ["around.txt", "sub/cluny.txt"] and len(report.unchanged) == 5, report
    assert reasons["loop.txt"] == "a link loop (not read)"
    assert reasons["dangling.txt"].startswith("a link to nothing")
    assert reasons["out.txt"] == "a link to a file outside the documents folder (not read)"
    assert {reasons[n] for n in links if "folder" in n or n == "root"} == {"a link to a folder (not followed)"}
    assert set(reasons) == set(links) - {"around.txt"}, reasons


def test_r2_4_a_folder_removed_during_the_scan_is_skipped_with_its_reason(docs_copy, tmp_path, monkeypatch):
    import shutil

    from amqa.index.local.store import update_index

    _write(docs_copy, {"sub/cluny.txt": "Le laboratoire de Cluny étudie les alliages légers."})
    sub, real = docs_copy / "sub", os.scandir

    def scandir(path=None):  # the folder goes after its parent was listed, before it is entered
        if path == str(sub):
            shutil.rmtree(sub)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = update_index(docs_copy, tmp_path / "store", "hash")
    assert len(report.added) == 5 and [(s.source, s.reason) for s in report.skipped] == [
        ("sub/", "folder removed during the scan")]


def test_r2_4_a_folder_nested_1500_deep_is_scanned(tmp_path):
    from amqa.ingest.documents import scan_folder

    root = tmp_path / "deep"
    root.mkdir()
    path, made = str(root), []
    for _ in range(1500):  # 3,000 characters of path: under PATH_MAX (4,096), over the recursion limit
        path += "/d"
        os.mkdir(path)
        made.append(path)
    Path(path, "fond.txt").write_text("Un texte tout au fond du dossier.", encoding="utf-8")
    try:
        scan = scan_folder(root)
        assert [f.source for f in scan.files] == ["d/" * 1500 + "fond.txt"] and not scan.skipped
    finally:  # shutil.rmtree and pytest's clean-up recurse too
        os.unlink(Path(path, "fond.txt"))
        for folder in reversed(made):
            os.rmdir(folder)


def _amqa_unprivileged(*args: str) -> subprocess.CompletedProcess:
    """The CLI run by a user whom file modes stop. As root (whom they do not stop, as in CI), its main()
    runs in a forked child that became nobody (65534): forked, not executed, since the interpreter may
    lie where nobody cannot reach (a pyenv under /root, 0700): so the parent first runs the same
    command on a copy of one seed, importing every module the child needs."""
    if os.geteuid() != 0:
        return _amqa(*args)
    import shutil
    import tempfile
    import traceback

    from amqa.frontends.cli import main

    with tempfile.TemporaryDirectory() as warm:
        (Path(warm) / "docs").mkdir()
        shutil.copy(next(SEEDS.glob("*.txt")), Path(warm) / "docs")
        assert main([args[0], "--docs", f"{warm}/docs", "--store", f"{warm}/store", "--embedder", "hash"]) == 0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 70
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                os.environ["AMQA_EMBEDDER"] = "hash"
                code = main(list(args))
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        status = os.waitpid(pid, 0)[1]
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, os.waitstatus_to_exitcode(status), out.read().decode(),
                                           err.read().decode())


@pytest.fixture()
def reachable_tmp():
    """A folder under /tmp that the unprivileged user can reach (pytest's tmp_path is under a 0700
    folder), with a copy of the seeds and an empty store that user may write; removed afterwards."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="amqa-r2-"))
    base.chmod(0o755)
    shutil.copytree(SEEDS, base / "docs")
    for path in [base / "docs", *(base / "docs").iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (base / "store").mkdir()
    if os.geteuid() == 0:
        os.chown(base / "store", NOBODY, NOBODY)
    yield base
    for path in base.rglob("*"):  # folders made unreadable by the test, readable again to be removed
        if not path.is_symlink() and path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(base)


@pytest.mark.slow  # the CLI in subprocesses
@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_r2_4_links_the_user_cannot_follow_are_skipped_and_the_index_keeps_updating(reachable_tmp):
    docs, args = reachable_tmp / "docs", ("--docs", str(reachable_tmp / "docs"), "--store", str(reachable_tmp / "store"))
    first = _amqa_unprivileged("index", *args)
    assert first.returncode == 0 and "5 added" in first.stdout, first.stderr
    private = reachable_tmp / "private"
    _write(private, {"inner/x.txt": "privé", "s.txt": "privé"})
    private.chmod(0o000)  # the user cannot enter it
    (docs / "secret").symlink_to(private / "inner")
    (docs / "secret.txt").symlink_to(private / "s.txt")
    if Path("/proc/1").exists():
        (docs / "cwd").symlink_to("/proc/1/cwd")  # where `amqa index --docs /` died: another user's process
    _write(docs, {"cluny.txt": "Le laboratoire de Cluny étudie les alliages légers."})
    (docs / "cluny.txt").chmod(0o644)
    run = _amqa_unprivileged("index", *args)
    assert run.returncode == 0 and "1 added" in run.stdout and not run.stderr, (run.stdout, run.stderr)
    for name in ["secret", "secret.txt"] + (["cwd"] if Path("/proc/1").exists() else []):
        assert f"skipped {name}: a link that cannot be followed (Permission denied): not read" in run.stdout, run.stdout


@pytest.mark.slow  # the CLI in subprocesses
@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_r2_13_an_unreadable_subfolder_is_listed_as_skipped(reachable_tmp):
    docs, args = reachable_tmp / "docs", ("--docs", str(reachable_tmp / "docs"), "--store", str(reachable_tmp / "store"))
    _write(docs, {"private/notes.txt": "Des notes privées sur le campus de Cluny."})
    (docs / "private").chmod(0o000)
    for expected in ("5 added", "up to date"):  # listed when written, and when up to date
        run = _amqa_unprivileged("index", *args)
        assert run.returncode == 0 and expected in run.stdout, (run.stdout, run.stderr)
        assert "skipped private/: folder not read (Permission denied)" in run.stdout, run.stdout


# --- round 2: the command line (issue 22, cases 5, 6, 14, 16) -------------------------------------------

#: What a terminal acts on instead of showing (case 5): C0 controls but tab and line feed, ESC, DEL, C1
#: controls (U+009B: CSI), bidi controls.
TERMINAL_CONTROLS = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
#: A document's hostile text: sets the window title, clears the screen, writes the clipboard (OSC 52),
#: a C1 CSI (U+009B) that colours what follows, a lone CR that overwrites the line.
HOSTILE_TEXT = ("Le campus de Rabat ouvre ses portes en 2024.\x1b]0;PWNED\x07 Il forme\x1b[2J des apprentis\x9b31m "
                "en usinage.\x1b]52;c;cm0gLXJmIH4=\x07 Fin\rFAUX.")
#: A file name that forges a second citation line, colours the terminal and reverses the rest (RLO).
HOSTILE_NAME = "note\n[2] faux.txt\x1b[31m\u202etxt.exe.txt"


def _no_terminal_controls(text: str, one_line: bool = False) -> None:
    import re

    found = re.findall(TERMINAL_CONTROLS + ("|[\n\t]" if one_line else ""), text)
    assert not found, (found, text)


def test_r2_5_terminal_escapes_in_a_document_and_its_name_are_printed_escaped(tmp_path):
    import re

    docs, store = tmp_path / "docs", tmp_path / "store"
    docs.mkdir()
    (docs / HOSTILE_NAME).write_text(HOSTILE_TEXT, encoding="utf-8")
    (docs / ("prog\x1b]0;x\x07\n.pdf")).write_bytes(ELF)  # skipped: its name is listed
    args = ("--docs", str(docs), "--store", str(store))
    run = _amqa("ask", "Quand le campus de Rabat ouvre-t-il ?", *args)
    assert run.returncode == 0, run.stderr
    _no_terminal_controls(run.stdout)
    _no_terminal_controls(run.stderr)
    assert re.findall(r"^\[\d+\]", run.stdout, re.MULTILINE) == ["[1]"], run.stdout  # no forged citation line
    assert "[1] note\\n[2] faux.txt\\x1b[31m\\u202etxt.exe.txt" in run.stdout, run.stdout
    assert ".\\x1b]0;PWNED\\x07 Il forme\\x1b[2J" in run.stdout and "\\x9b31m" in run.stdout
    assert "\\x1b]52;c;" in run.stdout and "Fin\\rFAUX." in run.stdout, run.stdout
    # --json: the same strings (JSON escapes), nothing a terminal acts on in the printed bytes.
    run = _amqa("ask", "Quand le campus de Rabat ouvre-t-il ?", *args, "--json")
    assert run.returncode == 0, run.stderr
    _no_terminal_controls(run.stdout)
    cited = json.loads(run.stdout)["citations"][0]
    assert cited["source"] == HOSTILE_NAME and "\x1b]52;c;" in cited["text"] and "\x9b31m" in cited["text"]
    # amqa index lists the skipped file on one line; an error quoting a path stays one line.
    run = _amqa("index", *args)
    assert run.returncode == 0, run.stderr
    _no_terminal_controls(run.stdout)
    assert "  skipped prog\\x1b]0;x\\x07\\n.pdf: " in run.stdout, run.stdout
    error = _one_line_error(_amqa("index", "--docs", str(tmp_path / "absent\x1b]0;x\x07\n\u202e"), "--store", str(store)))
    _no_terminal_controls(error[:-1], one_line=True)
    assert "absent\\x1b]0;x\\x07 \\u202e'" in error, error  # white space of a message is one space


def test_r2_5_an_llm_reply_with_terminal_escapes_is_printed_escaped(hash_store, llm):
    llm.reply("Les apprentis \x1b]0;PWNED\x07sont formés\x1b[2J à\x9b31m Metz [1].")
    run = _amqa("ask", QUESTION, "--store", str(hash_store), "--base-url", llm.url, "--model", "m")
    assert run.returncode == 0, run.stderr
    assert llm.requests, "the LLM was asked"
    _no_terminal_controls(run.stdout)
    _no_terminal_controls(run.stderr)
    assert "\\x1b]0;PWNED\\x07sont formés\\x1b[2J à\\x9b31m" in run.stdout, run.stdout


@pytest.fixture()
def other_origin():
    """A second loopback LLM server: another origin (another port) than the ``llm`` fixture's."""
    server = FakeLLM()
    yield server
    server.close()


#: What the other origin answers: a seeds sentence, as a verified answer would be (issue 22 saw one shown so).
OTHER_ORIGIN_REPLY = "Our goal is to increase the number of Arts et Métiers graduates by 50% by 2027 [1]."


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_r2_6_the_api_key_never_follows_a_redirect_to_another_origin(hash_engine, llm, other_origin, status):
    llm.redirect(other_origin.url + "/chat/completions", status)
    other_origin.reply(OTHER_ORIGIN_REPLY)
    answer = hash_engine.answer(QUESTION, generator=OpenAIChat(llm.url, "m", api_key="sk-secret-22", timeout=5.0))
    assert [r["auth"] for r in llm.requests] == ["Bearer sk-secret-22"]  # the key went to its own server only
    assert not other_origin.requests, other_origin.requests
    assert answer.verification is Verification.FALLBACK and answer.citations  # the extractive answer
    reason = answer.verification_reason
    assert f"redirected to {other_origin.url}/chat/completions (HTTP {status}): not followed" in reason, reason
    assert "--base-url" in reason and OTHER_ORIGIN_REPLY not in answer.text


def test_r2_6_the_cli_says_in_one_line_that_a_redirect_was_not_followed(hash_store, llm, other_origin):
    llm.redirect(other_origin.url + "/chat/completions")
    other_origin.reply(OTHER_ORIGIN_REPLY)
    run = _amqa("ask", QUESTION, "--store", str(hash_store), "--base-url", llm.url, "--model", "m",
                env={"AMQA_API_KEY": "sk-secret-22"})
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert llm.requests and not other_origin.requests, other_origin.requests
    warning = [line for line in run.stderr.splitlines() if "redirected to" in line]
    assert len(warning) == 1 and warning[0].startswith("amqa: warning: ") and "not followed" in warning[0], run.stderr
    assert "D'après les documents" in run.stdout and "\n[1] " in run.stdout  # the extractive answer


def _squad(context: str = "Le campus de Rabat ouvre en 2024.", **qa) -> dict:
    """A one-paragraph SQuAD-format file's content; ``qa`` overrides fields of its one question."""
    question = {"id": "q1", "question": "Quand le campus ouvre-t-il ?", "answers": [{"text": "2024", "answer_start": 28}]}
    return {"version": "1.1", "data": [{"title": "Rabat", "paragraphs": [{"context": context,
                                                                         "qas": [{**question, **qa}]}]}]}


MALFORMED_SQUAD = {  # name: (file bytes, what the one line says)
    "not JSON": (b'{"data": [', "is not JSON (line 1, column 11"),
    "empty file": (b"", "is not JSON (line 1, column 1"),
    "not UTF-8": ('{"data": []} é'.encode("latin-1"), "is not UTF-8 text"),
    "a list": (b"[]", "holds a list at the top level, not an object"),
    "no data": (b'{"version": "1.1"}', 'has no "data" key at the top level'),
    "data an object": (b'{"data": {}}', "holds an object at data, not a list"),
    "no paragraph": (b'{"data": []}', "holds no paragraph"),
    "no paragraphs key": (b'{"data": [{"title": "x"}]}', 'has no "paragraphs" key in data[0]'),
    "context a number": (json.dumps(_squad(12)).encode(), "holds a number at data[0].paragraphs[0].context, not a string"),
    "empty context": (json.dumps(_squad(" ")).encode(), "has an empty context at data[0].paragraphs[0].context"),
    "no qas": (b'{"data": [{"paragraphs": [{"context": "x"}]}]}', 'has no "qas" key in data[0].paragraphs[0]'),
    "no id": (json.dumps(_squad(id=None)).encode(), "holds null at data[0].paragraphs[0].qas[0].id, not a string"),
    "question null": (json.dumps(_squad(question=None)).encode(), "holds null at data[0].paragraphs[0].qas[0].question"),
    "answers a string": (json.dumps(_squad(answers="2024")).encode(),
                         "holds a string at data[0].paragraphs[0].qas[0].answers, not a list"),
    "answer without text": (json.dumps(_squad(answers=[{"answer_start": 3}])).encode(),
                            'has no "text" key in data[0].paragraphs[0].qas[0].answers[0]'),
    "answer_start a string": (json.dumps(_squad(answers=[{"text": "2024", "answer_start": "28"}])).encode(),
                              "holds a string at data[0].paragraphs[0].qas[0].answers[0].answer_start, not a number"),
    "answer out of range": (json.dumps(_squad(answers=[{"text": "2024", "answer_start": 900}])).encode(),
                            "places answer 0 of data[0].paragraphs[0].qas[0] at 900, outside its context (33 characters"),
    "negative answer_start": (json.dumps(_squad(answers=[{"text": "2024", "answer_start": -1}])).encode(),
                              "at -1, outside its context"),
    "no question": (json.dumps({"data": [{"paragraphs": [{"context": "x", "qas": []}]}]}).encode(), "holds no question"),
}


@pytest.mark.parametrize("case", MALFORMED_SQUAD)
def test_r2_16_a_malformed_squad_file_is_one_line_naming_the_file_and_the_fault(tmp_path, capsys, case):
    from amqa.frontends.cli import main

    data, expected = MALFORMED_SQUAD[case]
    path = tmp_path / "bench.json"
    path.write_bytes(data)
    assert main(["eval", "--squad", str(path), "--embedder", "hash"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"amqa: error: the SQuAD file '{path}' ") and err.count("\n") == 1, err
    assert expected in err and "unexpected" not in err and "Traceback" not in err, err
    assert not (tmp_path / "amqa-home" / "squad").exists(), "nothing indexed"


def test_r2_16_squad_files_checked_where_they_enter(tmp_path, capsys):
    from amqa.frontends.cli import main

    good = tmp_path / "good.json"
    good.write_text(json.dumps(_squad()), encoding="utf-8")
    bad = tmp_path / "docs.json"
    bad.write_text(json.dumps(_squad(answers=[{"text": "2024", "answer_start": 900}])), encoding="utf-8")
    assert main(["eval", "--squad", str(good), "--docs-squad", str(bad), "--embedder", "hash"]) == 1
    assert f"the SQuAD file '{bad}' places answer 0" in capsys.readouterr().err
    assert main(["eval", "--squad", str(tmp_path / "absent.json"), "--embedder", "hash"]) == 1
    assert "cannot read the SQuAD file" in capsys.readouterr().err
    assert main(["eval", "--squad", str(good), "--limit", "0", "--embedder", "hash"]) == 1
    assert "(--limit) must be 1 or more, not 0" in capsys.readouterr().err
    assert main(["eval", "--squad", str(good), "--embedder", "hash"]) == 0  # a well-formed file is asked
    assert "questions              1" in capsys.readouterr().out


#: Case 14's documents (written for these tests): one French, one English; no word of them in another script.
LANGUAGE_DOCS = {
    "observatoire.txt": "L'observatoire du Pic de Vaillant a été inauguré en 1998. Son télescope principal mesure "
                        "2,4 mètres de diamètre. Il accueille chaque année 12 000 visiteurs, surtout des écoliers. "
                        "La coupole a été rénovée en 2019 grâce à un don de la fondation Hélios.",
    "bakery.txt": "The Moulin Vert bakery in Lyon was founded in 1952 by Marie Dubois. It bakes 3,000 loaves of "
                  "sourdough bread every day. In 2015 the bakery opened a second shop near the train station.",
}
#: (language, question, the file that answers it); then questions the documents do not answer.
LANGUAGE_QUESTIONS = [
    ("zh", "天文台的主望远镜直径是多少？", "observatoire.txt"),
    ("ar", "كم عدد أرغفة الخبز التي يخبزها المخبز كل يوم؟", "bakery.txt"),
    ("ja", "天文台はいつ開設されましたか？", "observatoire.txt"),
    ("ru", "Сколько посетителей принимает обсерватория каждый год?", "observatoire.txt"),
    ("hi", "बेकरी की स्थापना कब हुई थी?", "bakery.txt"),
    ("ko", "빵집은 언제 두 번째 가게를 열었습니까?", "bakery.txt"),
]
OFF_TOPIC_QUESTIONS = [("zh", "如何更换汽车轮胎？"), ("ar", "ما هي عاصمة اليابان؟"), ("ja", "東京の人口は何人ですか？"),
                       ("ru", "Кто написал роман «Война и мир»?"), ("hi", "भारत की राजधानी क्या है?"),
                       ("ko", "김치는 어떻게 만드나요?")]


def test_r2_14_questions_in_other_scripts_are_told_apart_and_cut_into_words():
    from amqa.text import detect_language, tokenize

    assert [detect_language(q) for _, q, _ in LANGUAGE_QUESTIONS] == [lang for lang, _, _ in LANGUAGE_QUESTIONS]
    assert [detect_language(q) for _, q in OFF_TOPIC_QUESTIONS] == [lang for lang, _ in OFF_TOPIC_QUESTIONS]
    # A Latin name inside the question does not make it English or French; a Chinese name in English does not
    # make the text Chinese.
    assert detect_language("Moulin Vert 面包店是哪一年创立的？") == "zh"
    assert detect_language("Что такое Moulin Vert?") == "ru"
    assert detect_language("The bakery sells 面包 and cakes in Lyon every day.") == "en"
    # Chinese has no spaces: its words are character pairs, so a question shares words with a Chinese text;
    # a Latin name glued to a Korean particle is cut from it; Devanagari vowel signs stay in their word.
    question, passage = set(tokenize("天文台的望远镜")), set(tokenize("这座天文台有一台大型望远镜。"))
    assert {"天文", "远镜"} <= question & passage
    assert "moulin" in tokenize("Moulin에는 빵이 있습니까?") and "कितने" in "".join(tokenize("कितने लोग?"))


def test_r2_14_an_abstention_is_in_the_question_s_language(tmp_path):
    from amqa import Engine
    from amqa.writers.extractive.sentences import FRAMES

    docs = tmp_path / "docs"
    _write(docs, LANGUAGE_DOCS)
    engine = Engine(docs, tmp_path / "store", "hash", progress=False)
    abstained = 0
    for lang, question in OFF_TOPIC_QUESTIONS:
        answer = engine.answer(question)
        assert answer.language == lang, (lang, answer.text)
        assert answer.text == FRAMES[lang][1] if answer.abstained else answer.text.startswith(FRAMES[lang][0])
        abstained += answer.abstained
    assert abstained, "some abstain (the hash embedder's similarities are word overlap)"
    # A language amqa tells but has no words of its own in: English (Persian, Ukrainian).
    for question in ("پایتخت ژاپن کجاست؟", "Хто написав роман «Війна і мир»?"):
        answer = engine.answer(question)
        assert answer.language == "en", answer.text
        assert answer.text == FRAMES["en"][1] if answer.abstained else answer.text.startswith(FRAMES["en"][0])


@pytest.mark.slow  # the real model: only it reads these languages
def test_r2_14_questions_in_chinese_arabic_japanese_russian_hindi_korean_are_answered_in_them(tmp_path):
    from amqa import Engine
    from amqa.writers.extractive.sentences import FRAMES

    docs = tmp_path / "docs"
    _write(docs, LANGUAGE_DOCS)
    engine = Engine(docs, tmp_path / "store", progress=False)
    answered = []
    for lang, question, source in LANGUAGE_QUESTIONS:
        answer = engine.answer(question)
        assert answer.language == lang, (question, answer.text)
        if answer.abstained:  # an abstention, in the question's language
            assert answer.text == FRAMES[lang][1], (question, answer.text)
        else:
            assert answer.text.startswith(FRAMES[lang][0]) and answer.citations[0].source == source, answer.text
            answered.append(lang)
    # The Japanese question's best sentence (the right one) scored 0.776, under the 0.78 floor for questions
    # in a language no document is in (policy.E5_SMALL): the others were all answered (0.80-0.81).
    assert len(answered) >= 5, answered
    for lang, question in OFF_TOPIC_QUESTIONS:
        answer = engine.answer(question)
        assert answer.abstained and answer.text == FRAMES[lang][1], (question, answer.text)


# --- round 2: the web UI (issue 22, cases 7, 8, 9, 10, 15, 17) -----------------------------------------

def _hostile_names(n: int = 4000) -> list[str]:
    """File names an attacker or an unlucky user sends: path parts, ``..`` in every place, escapes,
    control and bidi characters, hidden names, odd suffixes, long names (seeded, so reproducible)."""
    import random

    rng = random.Random(22)
    pieces = ["..", ".", "/", "\\", "%2f", "%2F", "%2e%2e", "%5c", "%", " ", "\x00", "\n", "\r", "\t", "\x1b[2J",
              "\u202e", "\u200b", "~", "$", "*", "?", ":", "|", "<", ">", '"', "'", "`", ";", "&", "#", "=", ",",
              "é", "日本", "ß", "-", "+", "(", ")", "_", "a", "evil", "notes de cours", "CON", "0", "x" * 250]
    suffixes = [".txt", ".md", ".TXT", ".pdf", ".exe", "", ".", ". txt", ".txt.", ".txt ", ".tar.gz", ".docx"]
    names = ["a..b.txt", "..%2f..%2fevil.txt", "../../evil.txt", ".hidden.txt", "..txt", "...md", " .txt",
             "-rf.txt", "a\nb.txt", "%2e%2e%2fa.txt", "a/..", "", ".", ".."]
    for _ in range(n):
        names.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) + rng.choice(suffixes))
    return names


def test_r2_17_the_rename_advice_for_a_refused_name_is_a_name_the_same_check_accepts():
    import re

    from amqa.errors import InvalidInputError
    from amqa.ingest.uploads import safe_upload_name

    advised = 0
    for name in _hostile_names():
        try:
            safe_upload_name(name)
            continue
        except InvalidInputError as exc:
            message = str(exc)
        assert "\n" not in message and "\r" not in message and "\x1b" not in message, repr(message)
        m = re.search(r"e\.g\. '(.*)'$", message)
        if m is None:  # no name to advise: a type amqa does not read, said so
            assert "amqa reads" in message, repr(message)
            continue
        advised += 1
        assert safe_upload_name(m.group(1)) == m.group(1), f"{name!r}: advice {m.group(1)!r} is refused too"
    assert advised > 1000  # most hostile names had a supported type, and got an accepted name


def test_r2_17_the_advice_keeps_what_can_be_kept_of_the_name():
    from amqa.ingest.uploads import suggested_name

    assert suggested_name("a..b.txt") == "a.b.txt"
    assert suggested_name("..%2f..%2fevil.txt") == "evil.txt"
    assert suggested_name("C:\\Users\\me\\notes de cours.md") == "notes de cours.md"
    assert suggested_name("rapport: été 2024?.pdf") == "rapport- été 2024-.pdf"
    assert suggested_name("virus.exe") is None


@pytest.fixture()
def ui_handlers(docs_copy, tmp_path):
    pytest.importorskip("gradio", reason="pip install -e '.[test]'")
    from amqa import Engine
    from amqa.frontends.ui import ChatHandlers

    return ChatHandlers(Engine(docs_copy, tmp_path / "store", "hash", progress=False))


def test_r2_7_a_tab_may_queue_a_few_questions_and_a_refused_one_goes_back_in_the_box(ui_handlers):
    from amqa.frontends.ui import ChatSession

    session = ChatSession()
    views = [ui_handlers.enqueue(session, f"Question {i} : où se trouve le campus marocain ?", "en")
             for i in range(500)]
    assert len(session.pending) == ui_handlers.limits.waiting == 4
    refused = views[4:]
    assert all("already waiting" in v.status and "back in the box" in v.status for v in refused)
    assert refused[-1].box == "Question 499 : où se trouve le campus marocain ?", "nothing typed is lost"
    assert all(v.box is None for v in views[:4])
    for _ in range(4):  # the runs that follow the 4 questions accepted, one answer each
        answered = list(ui_handlers.drain(session, "en", 5, "extractive", False))
    assert 'data-done="4"' in answered[-1].status and not session.pending
    assert ui_handlers.enqueue(session, "Et à Montbéliard ?", "en").box is None, "room again once answered"


def test_r2_7_a_tab_gives_up_its_slot_after_each_answer_while_another_of_its_runs_waits(ui_handlers):
    """One answering run per question accepted (the page's `.then`): while a later run of the tab waits
    in Gradio's queue (the slots full), the running one stops after its answer and leaves it the rest."""
    from amqa.frontends.ui import ChatSession

    session = ChatSession()
    for q in ("Où se trouve le campus marocain ?", "Qui dirige AMTalents ?", "Quel est le budget du second AMI ?"):
        ui_handlers.enqueue(session, q, "en")
    for done in (1, 2, 3):  # each run, while a later one is due, answers one question and gives way
        views = list(ui_handlers.drain(session, "en", 5, "extractive", False))
        assert f'data-done="{done}"' in views[-1].status and len(session.pending) == 3 - done and not session.busy
    ui_handlers.enqueue(session, "Qui dirige AMTalents ?", "en")
    ui_handlers.enqueue(session, "Où se trouve le campus marocain ?", "en")
    running = ui_handlers.drain(session, "en", 5, "extractive", False)  # the slots free: both runs start
    next(running)
    assert list(ui_handlers.drain(session, "en", 5, "extractive", False)) == []  # the second leaves it the queue
    assert 'data-done="5"' in list(running)[-1].status and not session.pending  # none due: the first answers both
    assert [t.question for t in session.shown.turns][0] == "Où se trouve le campus marocain ?"


def test_r2_8_a_huge_question_is_cut_where_it_enters_with_a_message(ui_handlers):
    from amqa.settings import MAX_QUESTION_CHARS
    from amqa.frontends.ui import ChatSession

    session = ChatSession()
    question = "Où se trouve le campus marocain ? " + "bla " * 5_000_000  # 20 MB
    view = ui_handlers.enqueue(session, question, "en")
    assert f"cut to its first 1,000 characters (it had {len(question.strip()):,})" in view.status
    assert len(session.pending[0].question) <= MAX_QUESTION_CHARS
    views = list(ui_handlers.drain(session, "en", 5, "extractive", False))
    assert max(len(json.dumps(v.messages)) for v in views) < 50_000, "every reply small"
    assert len(json.dumps(views[-1].stored)) < 50_000
    assert session.shown.turns[0].question.startswith("Où se trouve le campus marocain ?")


def test_r2_8_a_session_keeps_a_bounded_history(docs_copy, tmp_path):
    pytest.importorskip("gradio", reason="pip install -e '.[test]'")
    from amqa import Engine
    from amqa.frontends.ui import ChatHandlers, ChatSession, UILimits

    handlers = ChatHandlers(Engine(docs_copy, tmp_path / "store", "hash", progress=False),
                            limits=UILimits(turns=3, conversations=2))
    session = ChatSession()
    for i in range(5):
        handlers.enqueue(session, f"Question {i} : où se trouve le campus marocain ?", "en")
        list(handlers.drain(session, "en", 5, "extractive", False))
    assert [t.question[:10] for t in session.shown.turns] == ["Question 2", "Question 3", "Question 4"]
    for _ in range(4):
        handlers.new_conversation(session, "en")
        handlers.enqueue(session, "Qui dirige AMTalents ?", "en")
        list(handlers.drain(session, "en", 5, "extractive", False))
    assert len(session.conversations) <= 2
    with pytest.raises(ValueError, match=r"UILimits.waiting must be a positive integer. Currently, it is 0"):
        UILimits(waiting=0)


@pytest.fixture()
def ui_server(docs_copy, tmp_path, monkeypatch):
    """The real web UI over a hash-embedder engine on a loopback port, its Gradio cache in tmp_path,
    with small upload limits (``ui_server.limits``); yields its address."""
    pytest.importorskip("gradio", reason="pip install -e '.[test]'")
    import socket

    from amqa import Engine
    from amqa.frontends.ui import build_app, serve

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    engine = Engine(docs_copy, tmp_path / "store", "hash", progress=False)
    try:
        from amqa.frontends.ui import UILimits
    except ImportError:  # the code before issue 22 (what these tests are checked against): its one limit
        app, limits = build_app(engine, max_upload_bytes=100_000), None
    else:
        limits = UILimits(upload_files=3, upload_bytes=100_000, upload_overhead=50_000, cache_every=1, cache_age=2)
        app = build_app(engine, limits=limits)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve(app, "127.0.0.1", port, block=False)

    class Server(str):
        pass

    server = Server(f"http://127.0.0.1:{port}/")
    server.limits, server.cache = limits, tmp_path / "gradio"
    yield server
    app.close()


def _dependency(url: str, elem_id: str, event: str, then: bool = False) -> int:
    """The fn index of the event ``event`` of the component ``elem_id`` (or of the step after it)."""
    import httpx

    config = httpx.get(f"{url}config", timeout=30).json()
    ids = {c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id}
    deps = config["dependencies"]
    first = next(d for d in deps if any(t[0] in ids and t[1] == event for t in d["targets"]))
    return next(d for d in deps if d.get("trigger_after") == first["id"])["id"] if then else first["id"]


def _page_call(url: str, fn_index: int, data: list, session: str) -> dict:
    """Run an event as the page does (Gradio's queue protocol over plain HTTP); its last message."""
    import httpx

    with httpx.Client(timeout=60) as http:
        joined = http.post(f"{url}gradio_api/queue/join",
                           json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                                 "trigger_id": None})
        joined.raise_for_status()
        with http.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "process_completed":
                        return msg
    raise AssertionError("the event stream ended")


def test_r2_9_document_handlers_are_not_in_the_public_api(ui_server, docs_copy):
    import httpx
    from gradio_client import Client

    target = sorted(p.name for p in docs_copy.iterdir())[0]
    delete = _dependency(ui_server, "amqa-confirm-yes", "click", then=True)
    client = Client(ui_server, verbose=False)
    named = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    for name, info in named.items():  # what is listed touches no document
        assert not any(p.get("label") in ("Document to delete", "Add documents") for p in info["parameters"]), name
    with pytest.raises(ValueError, match="Invalid function index"):  # gradio_client: not callable
        client.predict(target, "en", fn_index=delete)
    for name in ("delete", "upload", "reindex"):
        for route in ("call", "run"):
            r = httpx.post(f"{ui_server}gradio_api/{route}/{name}", json={"data": [target, "en", ""]}, timeout=30)
            assert r.status_code == 404 and "not part of amqa's API" in r.text, (route, name, r.text[:200])
    # The page's own protocol, without the confirmation asked first in that tab: nothing deleted.
    done = _page_call(ui_server, delete, [target, "en", ""], "no-confirmation")
    assert "Pick a document to delete first" in json.dumps(done["output"], ensure_ascii=False), done
    assert (docs_copy / target).is_file()


def test_r2_9_a_deletion_confirmed_in_the_tab_deletes_the_source_asked_about(ui_server, docs_copy):
    names = sorted(p.name for p in docs_copy.iterdir())
    ask = _dependency(ui_server, "amqa-delete", "click")
    delete = _dependency(ui_server, "amqa-confirm-yes", "click", then=True)
    session = "confirmed-tab"
    _page_call(ui_server, _dependency(ui_server, "amqa-docs-filter", "submit"), ["en", ""], session)  # its choices
    import httpx

    r = httpx.post(f"{ui_server}gradio_api/run/predict", timeout=30,
                   json={"data": [names[0], "en"], "fn_index": ask, "session_hash": session})
    assert r.status_code == 200 and "Delete" in r.text, r.text[:300]
    done = _page_call(ui_server, delete, [names[1], "en", ""], session)  # the request names another: ignored
    assert "Deleted" in json.dumps(done["output"], ensure_ascii=False), done
    assert not (docs_copy / names[0]).exists() and (docs_copy / names[1]).is_file()


def _upload(url: str, files: list[tuple[str, bytes]]):
    import httpx

    return httpx.post(f"{url}gradio_api/upload", files=[("files", (n, b, "text/plain")) for n, b in files],
                      timeout=60)


def test_r2_10_uploads_leave_no_temporary_file_and_a_request_is_bounded(ui_server, docs_copy):
    upload = _dependency(ui_server, "amqa-upload", "upload")
    files = [("cluny.txt", "La médiathèque de Cluny prête des imprimantes 3D.".encode()),
             ("a..b.txt", b"Refused for its name."), ("prog.exe", b"MZ refused for its type.")]
    sent = _upload(ui_server, files)
    assert sent.status_code == 200, sent.text
    paths = sent.json()
    assert all(Path(p).is_file() for p in paths)
    data = [[{"path": p, "orig_name": n, "meta": {"_type": "gradio.FileData"}} for p, (n, _) in zip(paths, files)],
            "en", ""]
    done = _page_call(ui_server, upload, data, "uploading-tab")
    message = json.dumps(done["output"], ensure_ascii=False).replace("\\\\", "")
    assert "Indexed cluny.txt" in message and "e.g. 'a.b.txt'" in message, message
    assert (docs_copy / "cluny.txt").is_file()
    assert not any(Path(p).exists() for p in paths), "accepted or refused, Gradio's copy is removed"
    # Too many files at once: refused by the handler (all), and their copies removed too.
    many = _upload(ui_server, [(f"n{i}.txt", b"Une note.") for i in range(5)])
    assert many.status_code == 200
    data = [[{"path": p, "orig_name": f"n{i}.txt", "meta": {"_type": "gradio.FileData"}}
             for i, p in enumerate(many.json())], "en", ""]
    message = json.dumps(_page_call(ui_server, upload, data, "uploading-tab")["output"], ensure_ascii=False)
    assert "refused 5 files: at most 3 in one upload" in message and not (docs_copy / "n0.txt").exists()
    assert not any(Path(p).exists() for p in many.json())
    # At the server, before any of it is read: one file over the size limit, a request over the total.
    big = _upload(ui_server, [("big.txt", b"x" * 150_000)])
    assert big.status_code == 413, big.text
    flood = _upload(ui_server, [(f"f{i}.txt", b"y" * 90_000) for i in range(30)])
    assert flood.status_code == 413 and "at most 3 files of 100 kB each" in flood.text, flood.text


def test_r2_10_gradio_cleans_its_cache_of_uploads_no_handler_saw(ui_server):
    sent = _upload(ui_server, [("orphan.txt", b"Never handed to amqa.")])
    assert sent.status_code == 200
    path = Path(sent.json()[0])
    assert path.is_file()
    deadline = time.monotonic() + 20  # UILimits(cache_every=1, cache_age=2) in the fixture
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not path.exists(), "still in Gradio's cache"


def test_r2_15_the_documents_tab_sends_a_page_of_rows_with_the_counts_and_a_filter(tmp_path):
    """Many files: the first rows, the counts, and the rest found by the filter (bench/docs_tab.py
    measures 100k files over HTTP)."""
    pytest.importorskip("gradio", reason="pip install -e '.[test]'")
    from amqa import Engine
    from amqa.frontends.ui import DocumentHandlers

    docs = tmp_path / "docs"
    for i in range(250):
        (docs / f"sub-{i // 100}").mkdir(parents=True, exist_ok=True)
        (docs / f"sub-{i // 100}" / f"note-{i:03d}.txt").write_text(f"La note {i} parle de l'atelier {i}.",
                                                                    encoding="utf-8")
    handlers = DocumentHandlers(Engine(docs, tmp_path / "store", "hash", progress=False))
    view = handlers.documents("en")
    assert len(view.rows) == 200 and len(view.removable) == 200
    assert "250 files indexed" in view.note and "the first 200 shown" in view.note
    assert "note-249.txt" not in json.dumps(view.rows)
    found = handlers.documents("en", query="NOTE-249")  # any case, in the file name or the title
    assert [r[1] for r in found.rows] == ["sub-2/note-249.txt"] and found.removable == ["sub-2/note-249.txt"]
    assert "1 with 'note-249'" in found.note.replace("\\", "")
    assert handlers.documents("en", query="nothing like it").rows == []
    gone = handlers.delete("sub-2/note-249.txt", "en", "note-249")  # the listing follows the index
    assert gone.rows == [] and "249 files indexed" in gone.note


# --- round 2: the readers (issue 22, cases 2, 3, 11, 18) -------------------------------------------

import re  # noqa: E402

import make_files  # noqa: E402  (tests/ is on sys.path above)


def _read(path: Path, limits=None):
    from amqa.ingest.documents import SourceFile, read_document

    return read_document(SourceFile(path.name, path, "0"), *([limits] if limits is not None else []))


def _in_a_child(code: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    """``code`` run by a fresh interpreter (the test fails at ``timeout`` instead of hanging: a regular
    expression holds the GIL, so a thread could not be left behind)."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout)


READ_IN_A_CHILD = """
import sys, time
from pathlib import Path
from amqa.ingest.documents import SourceFile, read_document
from amqa.ingest.chunking import chunk_document
t0 = time.perf_counter()
doc = read_document(SourceFile(Path(sys.argv[1]).name, Path(sys.argv[1]), "0"))
chunks = chunk_document(doc)
print(doc.title, len(doc.text), len(chunks), round(time.perf_counter() - t0, 2))
"""


def test_r2_2_an_unclosed_front_matter_full_of_title_lines_is_read_at_once(tmp_path):
    md = tmp_path / "notes.md"
    md.write_text("---\n" + "title: x\n" * 30_000, encoding="utf-8")  # 270 kB: over 60 s on f9d1bc4
    out = _in_a_child(READ_IN_A_CHILD, str(md), timeout=20)
    assert out.returncode == 0, out.stderr
    title, chars, chunks, _ = out.stdout.split()
    assert title == "---" and int(chars) == 270_004 and int(chunks) > 0  # no front matter: the first line
    from amqa.ingest.readers import front_matter_title

    closed = "---\r\nlayout: post\r\ntitle: 'Le campus de Cluny'\r\n---\r\n# Autre titre\n"
    assert front_matter_title(closed) == "Le campus de Cluny"
    assert front_matter_title("---\nlayout: post\n---\ntitle: pas ici\n---\n") is None, "only inside the front matter"
    assert front_matter_title("---\n" + "a: b\n" * 5000 + "title: loin\n---\n") is None, "bounded (16 kB)"


def test_r2_2_a_million_dots_split_into_sentences_in_linear_time(tmp_path):
    dots = tmp_path / "points.txt"
    dots.write_text("Début du texte. " + "." * 1_000_000 + "Fin du texte.", encoding="utf-8")  # 20,000: 24 s before
    out = _in_a_child(READ_IN_A_CHILD, str(dots), timeout=30)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-3]) == 1_000_029
    from amqa.text import split_sentences

    text = "Il part. Elle reste !.. Fin"
    assert [text[a:b] for a, b in split_sentences(text)] == ["Il part.", "Elle reste !..", "Fin"]


BOMBS = {".docx": make_files.write_docx_bomb, ".odt": make_files.write_odt_bomb, ".pptx": make_files.write_pptx_bomb,
         ".xlsx": make_files.write_xlsx_bomb}


@pytest.mark.parametrize("suffix", sorted(BOMBS))
def test_r2_3_a_decompression_bomb_is_skipped_before_it_is_parsed(tmp_path, suffix):
    path = tmp_path / f"bombe{suffix}"
    BOMBS[suffix](path, 3, padding=2000)  # 3 MB of XML, 530-590 times its compressed size (the issue's: 17-50 MB)
    skipped = _read(path)
    assert "decompression bomb" in getattr(skipped, "reason", ""), skipped
    ratio = int(re.search(r"is ([\d,]+) times its compressed size, more than 100 \(ReadLimits.ratio\)", skipped.reason)[1])
    assert 300 < ratio < 1032, skipped.reason  # deflate's ceiling: 1,032


def test_r2_3_an_epub_listing_its_chapter_20_times_reads_it_once(tmp_path):
    book = tmp_path / "guide.epub"
    make_files.write_epub_listing_twice(book, times=20)
    doc = _read(book)
    assert doc.text.count("La bibliothèque de Cluny prête des tablettes") == 1, doc.text
    bomb = tmp_path / "bombe.epub"
    make_files.write_epub_listing_twice(bomb, times=20, megabytes=1.5)  # the issue's: 4.4 kB, 66 s and 2.7 GB
    assert "decompression bomb" in _read(bomb).reason


def test_r2_3_a_part_whose_header_lies_about_its_size_is_never_decompressed(tmp_path):
    """bzip2 packs 200 MB of spaces into a few hundred bytes and Python's zipfile decompresses it whole
    before cutting it to the declared 10 kB (deflate it bounds); on f9d1bc4 python-docx got that far,
    then failed on the CRC."""
    path = tmp_path / "rapport.docx"
    make_files.write_lying_bzip2_docx(path, megabytes=200)
    reason = _read(path).reason
    assert reason == "part 'word/document.xml' uses compression method 12 (only stored and deflated are read): not read"


def test_r2_3_limits_are_checked_where_they_enter_and_large_real_documents_pass(tmp_path):
    from amqa.errors import InvalidInputError
    from amqa.ingest.readers import ReadLimits

    for bad in ({"text_chars": 0}, {"ratio": -1}, {"members": 2.5}, {"control_share": 2}, {"seconds": True}):
        with pytest.raises(InvalidInputError, match=f"ReadLimits.{next(iter(bad))}.*Currently"):
            ReadLimits(**bad)
    # Real files by their libraries, bigger than any limit's threshold: read whole.
    import docx

    document = docx.Document()
    for i in range(3000):
        document.add_paragraph(f"Le paragraphe {i} décrit l'atelier {i % 97} du campus de Cluny et ses {i} machines.")
    document.save(str(tmp_path / "long.docx"))
    assert _read(tmp_path / "long.docx").text.count("Le paragraphe") == 3000
    tight = ReadLimits(part_bytes=100_000)
    assert "more than 100,000 (ReadLimits.part_bytes)" in _read(tmp_path / "long.docx", tight).reason
    assert "ReadLimits.members" in _read(tmp_path / "long.docx", ReadLimits(members=5)).reason


def test_r2_3_a_bomb_in_the_folder_is_listed_as_skipped_and_the_rest_indexed(docs_copy, tmp_path):
    from amqa.index.local.store import update_index

    make_files.write_docx_bomb(docs_copy / "bombe.docx", 3, padding=2000)
    report = update_index(docs_copy, tmp_path / "store", "hash")
    assert len(report.added) == 5 and "bombe.docx" not in report.added
    reasons = {s.source: s.reason for s in report.skipped}
    assert "a possible decompression bomb: not read" in reasons["bombe.docx"], reasons


def test_r2_11_a_file_with_more_text_than_the_limit_is_skipped_with_what_to_do(tmp_path):
    from amqa.ingest.readers import ReadLimits

    big = tmp_path / "journal.txt"
    line = "2025-07-01 09:30:00 campus de Cluny : sauvegarde terminée sans erreur\n"
    big.write_text(line * (10_000_000 // len(line) + 1), encoding="utf-8")  # just over 10 M characters
    reason = _read(big).reason
    assert reason == ("more than 10,000,000 characters of text (ReadLimits.text_chars): not indexed; "
                      "split it into smaller files to index it")
    assert _read(big, ReadLimits(text_chars=20_000_000)).text.startswith("2025-07-01")
    assert "ReadLimits.file_bytes" in _read(big, ReadLimits(file_bytes=1_000_000)).reason  # never read past it
    page = tmp_path / "page.html"  # text known only once the page is parsed
    page.write_text("<html><body>" + "<p>Le campus de Cluny.</p>" * 10_000 + "</body></html>", encoding="utf-8")
    assert "ReadLimits.text_chars" in _read(page, ReadLimits(text_chars=100_000)).reason


def test_r2_18_random_bytes_named_txt_are_skipped_and_latin_text_still_reads(tmp_path):
    import random

    noise = tmp_path / "notes.txt"
    noise.write_bytes(random.Random(18).randbytes(200_000).replace(b"\x00", b"\x01"))  # no NUL anywhere
    reason = _read(noise).reason
    assert reason.startswith("binary content (") and "control characters) in a text file" in reason, reason
    french = "Élève à l'école de Besançon : « œuvre », coût 12 € — déjà payé.\r\n"
    for encoding in ("cp1252", "latin-1", "utf-8"):
        text = french if encoding != "latin-1" else french.replace("œ", "oe").replace("€", "EUR").replace("—", "-")
        (tmp_path / f"{encoding}.txt").write_bytes((text * 200).encode(encoding))
        assert _read(tmp_path / f"{encoding}.txt").text.startswith(text), encoding
    log = tmp_path / "build-log.txt"  # a terminal log with colour codes is text
    log.write_text("\x1b[32mINFO\x1b[0m le campus de Cluny a été indexé en 12 s\n" * 500, encoding="utf-8")
    assert "campus de Cluny" in _read(log).text
