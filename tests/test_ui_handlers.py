"""The web UI's handlers as plain Python over a hash-embedder engine (the page itself: test_ui.py)."""
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="pip install -e '.[test]'")

from amqa import Engine  # noqa: E402
from amqa.settings import bundled_seeds  # noqa: E402
from amqa.frontends.transcript import MAX_STORED_CHARS, Conversation, Turn, dump_conversations, load_conversations  # noqa: E402
from amqa.frontends.ui import ChatHandlers, ChatSession, DocumentHandlers, chat_text, library_engine, turn_html  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MOROCCO = "Où se trouve le campus marocain ?"
MONTBELIARD = "Combien d'entreprises compte le bassin de Montbéliard ?"


@pytest.fixture
def handlers(docs_copy, tmp_path):
    return ChatHandlers(Engine(docs_copy, tmp_path / "store", "hash", progress=False))


def ask(handlers, session, *questions, lang="en", k=5, show=False):
    """Send the questions as a user would (each shows at once), then let the answering run: every view."""
    views = [handlers.enqueue(session, q, lang) for q in questions]
    return views + list(handlers.drain(session, lang, k, "extractive", show))


def bot(view, i=-1):
    return [m for m in view.messages if m["role"] == "assistant"][i]["content"]


def test_a_question_shows_at_once_then_its_answer_streams_with_its_own_sources(handlers):
    session = ChatSession()
    first = handlers.enqueue(session, MOROCCO, "en")
    assert first.messages == [{"role": "user", "content": chat_text(MOROCCO)}] and 'data-done="0"' in first.status
    views = list(handlers.drain(session, "en", 5, "extractive", True))
    assert len(views) > 2 and all('data-done="0"' in v.status for v in views[:-1])  # streamed, then complete
    assert any(bot(v).endswith(" ▌") for v in views[:-1])
    last = views[-1]
    assert 'data-done="1"' in last.status and "quoted" in last.status and "<table>" in last.passages
    answer = bot(last)
    cid = session.current
    assert f'<a class="amqa-ref" href="#amqa-{cid}-1-1">\\[1\\]</a>' in answer
    assert f'id="amqa-{cid}-1-1"' in answer and 'class="amqa-sources"' in answer and "▌" not in answer
    assert last.stored["conversations"][0]["turns"][0]["question"] == MOROCCO
    assert last.conversations == [(MOROCCO, cid)]


def test_questions_sent_while_answering_wait_their_turn_and_each_keeps_its_sources(handlers):
    session = ChatSession()
    handlers.enqueue(session, MOROCCO, "en")
    running = handlers.drain(session, "en", 5, "extractive", False)
    next(running)  # the first answer is being written...
    waiting = handlers.enqueue(session, MONTBELIARD, "en")  # ...when the second question is sent
    assert [m["content"] for m in waiting.messages if m["role"] == "user"] == [chat_text(MOROCCO), chat_text(MONTBELIARD)]
    assert 'data-waiting="1"' in waiting.status
    assert list(handlers.drain(session, "en", 5, "extractive", False)) == []  # a second run leaves it the queue
    views = list(running)
    last = views[-1]
    assert 'data-done="2"' in last.status and 'data-waiting="0"' in last.status
    turns = session.shown.turns
    assert [t.question for t in turns] == [MOROCCO, MONTBELIARD]
    assert "2.900" in turns[1].text and any("Rabat" in s.quote for s in turns[0].sources)
    # Each answer keeps its own sources under it, with anchors of its own.
    first, second = bot(last, 0), bot(last, 1)
    assert "Rabat" in first and "2.900" in second and "Rabat" not in second
    assert f"amqa-{session.current}-1-1" in first and f"amqa-{session.current}-2-1" in second


def test_the_conversation_so_far_goes_to_the_engine(handlers, monkeypatch):
    seen = []
    real = handlers.engine.answer_stream

    def recording(question, k=None, generator=None, *, history=None, wait=None):
        seen.append(history)
        return real(question, k=k, generator=generator, history=history, wait=wait)

    monkeypatch.setattr(handlers.engine, "answer_stream", recording)
    session = ChatSession()
    ask(handlers, session, MOROCCO)
    ask(handlers, session, "Et quand ?")
    assert seen[0] == []
    assert seen[1][0] == {"role": "user", "content": MOROCCO} and seen[1][1]["role"] == "assistant"
    assert "Rabat" in seen[1][1]["content"] and "\ue000" not in seen[1][1]["content"]  # no mark characters
    assert len(seen[1]) == 2


def test_stop_ends_the_answer_and_drops_the_waiting_questions(handlers, monkeypatch):
    session = ChatSession()
    handlers.enqueue(session, MOROCCO, "en")
    handlers.enqueue(session, MONTBELIARD, "en")
    running = handlers.drain(session, "en", 5, "extractive", False)
    next(running)
    stopped = handlers.stop(session, "fr")
    assert 'data-waiting="0"' in stopped.status and 'data-done="2"' in stopped.status and "Arrêté" in stopped.status
    assert [bot(stopped, i) for i in (0, 1)] == ["⏹ Arrêté\\.", "⏹ Arrêté\\."]  # both stay, marked stopped
    rest = list(running)
    assert [t.question for t in session.shown.turns] == [MOROCCO, MONTBELIARD]  # in the order asked
    assert [t.outcome for t in session.shown.turns] == ["stopped", "stopped"] and 'data-done="2"' in rest[-1].status
    assert session.shown.history() == []  # a stopped answer is not passed on as history
    # The next question is answered normally.
    last = ask(handlers, session, MONTBELIARD)[-1]
    assert "2.900" in bot(last) and session.shown.turns[-1].outcome == "answered"


def test_clear_removes_the_conversation_everywhere(handlers):
    session = ChatSession()
    ask(handlers, session, MOROCCO, show=True)
    cleared = handlers.clear(session, "en")
    assert cleared.messages == [] and cleared.passages == ""
    assert cleared.stored["conversations"] == [] and "Conversation cleared." in cleared.status
    assert MOROCCO not in str(cleared.stored) and cleared.conversations == [("…", session.current)]


def test_new_conversations_and_going_back_to_an_earlier_one(handlers):
    session = ChatSession()
    ask(handlers, session, MOROCCO)
    first = session.current
    fresh = handlers.new_conversation(session, "en")
    assert fresh.messages == [] and session.current != first
    last = ask(handlers, session, MONTBELIARD)[-1]
    assert [title for title, _ in last.conversations] == [MONTBELIARD, MOROCCO]
    back = handlers.select(session, first, "en")
    assert back.current == first and back.messages[0]["content"] == chat_text(MOROCCO) and len(back.messages) == 2
    assert len(back.stored["conversations"]) == 2


def test_conversations_come_back_from_the_browser_and_bad_data_is_dropped(handlers):
    session = ChatSession()
    last = ask(handlers, session, MOROCCO)[-1]
    again = ChatSession()  # a reload: a new session, the browser's copy
    view = handlers.load(again, last.stored, "en")
    assert view.messages == last.messages  # the same messages, sources and anchors
    assert again.current == session.current and again.shown.history()[0]["content"] == MOROCCO
    # What comes back from the browser is not trusted: wrong types are dropped, text is escaped.
    evil = {"version": 1, "current": "abc", "conversations": [
        {"id": "abc", "updated": 1, "turns": [
            {"question": "<script>alert(1)</script>", "text": "<img src=x onerror=1> [1]", "outcome": "answered",
             "sources": [{"n": 1, "source": "<b>a</b>", "title": "t", "location": "", "quote": "q", "marks": [[0, 1]],
                          "passage": "", "at": [0, 0]}]},
            {"question": "q", "text": "t", "outcome": "answered",  # a mark outside its quote: the turn goes
             "sources": [{"n": 1, "source": "a", "title": "t", "location": "", "quote": "q", "marks": [[0, 99]],
                          "passage": "", "at": [0, 0]}]}]},
        {"id": "../../x", "turns": []}, "nonsense", {"id": "def", "turns": [{"question": 3}]}]}
    conversations, current = load_conversations(evil)
    assert [c.id for c in conversations] == ["abc"] and len(conversations[0].turns) == 1
    view = handlers.load(ChatSession(), evil, "en")
    shown = " ".join(m["content"] for m in view.messages)
    assert not re.search(r"(?<!\\)<(script|img|b>)", shown)  # only backslash-escaped (shown as text)
    assert "&lt;b&gt;a&lt;/b&gt;" in bot(view)
    assert handlers.load(ChatSession(), "garbage", "en").messages == []


def test_the_browser_copy_stays_within_its_budget():
    big = Turn(question="q", text="x" * 5000, sources=(), outcome="answered")
    conversations = [Conversation(id=f"c{i}", turns=[big] * 10, updated=i) for i in range(40)]
    dumped = dump_conversations(conversations, "c39")
    assert len(repr(dumped)) <= MAX_STORED_CHARS + 60_000 and dumped["conversations"][0]["id"] == "c39"
    assert len(dumped["conversations"]) < 40


def test_empty_question_and_failures_become_messages_in_the_browsers_language(handlers, monkeypatch):
    session = ChatSession()
    assert "Écrivez d&#x27;abord une question." in handlers.enqueue(session, "   ", "fr-FR").status
    assert session.pending == deque_empty()

    def boom(*args, **kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(handlers.engine, "answer_stream", boom)
    last = ask(handlers, session, "Metz ?", lang="fr")[-1]
    assert "n'a pas pu recevoir de réponse (RuntimeError)" in bot(last).replace("\\", "")
    assert "Traceback" not in bot(last) and 'data-done="1"' in last.status
    last = ask(handlers, session, "Metz ?", lang="en")[-1]
    assert "could not be answered (RuntimeError)" in bot(last).replace("\\", "")


def deque_empty():
    from collections import deque

    return deque()


def test_text_from_documents_and_questions_is_escaped():
    from amqa.frontends.transcript import SourceRef

    turn = Turn(question="<b>q</b>", text="<script>x</script> [1]",
                sources=(SourceRef(n=1, source='a"<i>.txt', title="<img src=x>", location="p. 2", quote="<u>q</u>",
                                   passage="a\n\nb <s>", at=(0, 1)),), outcome="answered")
    shown = turn_html(turn, "amqa-c-1", "en")
    assert "<script>" not in shown and "<img" not in shown and "<u>" not in shown and "<s>" not in shown
    assert "&lt;img src=x&gt;" in shown and "<mark>a</mark><br><br>b &lt;s&gt;" in shown and "p. 2" in shown
    assert "\n\n<details" in shown and "\n" not in shown.split("\n\n<details")[1]  # the HTML block is one line
    assert chat_text("<script>") == "\\<script\\>"


def test_sources_name_the_title_file_and_page_and_show_clean_quotes(tmp_path):
    """A slide and a Markdown file: the source says "slide 2" and shows the quotes without their
    markup, in the whole passage too; the answer has no markup either."""
    from make_files import CASES, write_all

    deck = next(c for c in CASES if c.name == "prototypes.odp")
    docs = write_all(tmp_path / "docs", [deck])
    (docs / "acces.md").write_text("# Accès\n\nLe **parking vélo** de la gare compte [112 places]"
                                   "(https://exemple.org/velo) depuis mars.\n", encoding="utf-8")
    handlers = ChatHandlers(Engine(docs, tmp_path / "store", "hash", progress=False))
    session = ChatSession()
    answer = bot(ask(handlers, session, deck.fr.question)[-1])
    assert f"slide {deck.fr.page}" in answer and '<span class="amqa-file">prototypes.odp</span>' in answer
    answer = bot(ask(handlers, session, "Combien de places compte le parking vélo de la gare ?")[-1])
    assert '<span class="amqa-title">Accès</span> · <span class="amqa-file">acces.md</span>' in answer
    assert "parking vélo de la gare compte <strong>112</strong> places depuis mars." in answer
    sources = answer.split("<details", 1)[1]
    assert "**" not in sources and "https://" not in sources and "# Accès" not in sources and "p. " not in sources
    assert "https" not in answer and "parking vélo" in answer


def test_documents_upload_delete_with_confirmation_and_reindex(handlers, tmp_path):
    docs = DocumentHandlers(handlers.engine)
    good = tmp_path / "upload-1"
    good.write_text("La médiathèque de Cluny prête des imprimantes 3D.", encoding="utf-8")
    steps = []
    view = docs.upload([(str(good), "mediatheque.txt"), (str(good), "../evil.txt")], "en",
                           lambda step, done, total: steps.append(step))
    assert "Indexed mediatheque.txt" in view.message.replace("\\", "") and "refused" in view.message
    assert "mediatheque.txt" in [r[1] for r in view.rows] and "mediatheque.txt" in view.removable
    assert (handlers.engine.docs / "mediatheque.txt").is_file() and not (tmp_path / "evil.txt").exists()
    assert "Reading files" in steps and "Embedding passages" in steps
    assert handlers.engine.answer("Que prête la médiathèque de Cluny ?").citations[0].source == "mediatheque.txt"

    show, text = docs.ask_delete("mediatheque.txt", "fr")
    assert show and "Supprimer **mediatheque\\.txt**" in text and str(handlers.engine.docs) in text.replace("\\", "")
    assert docs.ask_delete(None, "en") == (False, "Pick a document to delete first.")
    view = docs.delete("mediatheque.txt", "en")
    assert "Deleted mediatheque" in view.message.replace("\\", "") and "mediatheque.txt" not in str(view.rows)
    assert not (handlers.engine.docs / "mediatheque.txt").exists()
    assert "⚠️" in docs.delete("mediatheque.txt", "en").message  # already gone: one line, no trace

    (handlers.engine.docs / "002_d86c49a6ec5f4adf.txt").unlink()  # removed on disk, behind the UI's back
    view = docs.reindex("fr")
    assert "1 retirés" in view.message and len(view.rows) == 4 and view.headers[0] == "titre"


def test_the_ui_over_the_bundled_seeds_adds_documents_to_the_library_and_leaves_the_checkout_clean(tmp_path,
                                                                                                  settings):
    engine = library_engine(Engine(embedder="hash", progress=False))
    assert engine.library == settings.library and engine.docs == bundled_seeds()
    handlers = DocumentHandlers(engine)
    upload = tmp_path / "upload"
    upload.write_text("La cafétéria du campus de Lille ouvre à 7 h 30.", encoding="utf-8")
    view = handlers.upload([(str(upload), "cafeteria.txt")], "en")
    assert "library/cafeteria.txt" in view.removable and (settings.library / "cafeteria.txt").is_file()
    seeds = [r for r in view.rows if r[2] == "bundled"]
    assert len(seeds) == 5 and not any(r[1] in view.removable for r in seeds)
    assert "⚠️" in handlers.delete("001_3c9c59b90a3a1c43.txt", "en").message
    assert (bundled_seeds() / "001_3c9c59b90a3a1c43.txt").is_file()
    if (ROOT / ".git").exists():
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "seeds", "src"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
        assert "cafeteria" not in status and "seeds/" not in status


def test_two_tabs_answering_at_once_keep_their_own_conversations(handlers):
    a, b = ChatSession(), ChatSession()
    results = {}

    def run(name, session, question):
        results[name] = ask(handlers, session, question)[-1]

    threads = [threading.Thread(target=run, args=("a", a, MOROCCO)),
               threading.Thread(target=run, args=("b", b, MONTBELIARD))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [t.question for t in a.shown.turns] == [MOROCCO] and [t.question for t in b.shown.turns] == [MONTBELIARD]
    assert "2.900" in bot(results["b"]) and "2.900" not in bot(results["a"])


def test_an_extractive_answer_comes_in_one_view_while_others_are_being_answered(handlers):
    alone = ChatSession()
    views = ask(handlers, alone, MOROCCO)[1:]
    assert len(views) > 2 and "Rabat" in bot(views[-1])  # shown as it starts, then in steps
    busy, other = ChatSession(), ChatSession()
    handlers.enqueue(other, MONTBELIARD, "en")
    running = handlers.drain(other, "en", 5, "extractive", False)
    next(running)  # another tab's answer is being written
    views = ask(handlers, busy, MOROCCO)[1:]
    assert len(views) == 1 and "Rabat" in bot(views[0]) and 'data-done="1"' in views[0].status
    assert "2.900" in bot(list(running)[-1])
    assert handlers.answering == 0


def test_a_question_sent_as_the_run_ends_is_answered(handlers):
    """The run's last check of the queue and its end are one step: a question sent in between (here
    at the very release of the lock after that check) starts a run of its own and is answered."""
    real, hook = handlers.lock, []

    class HookLock:
        def __enter__(self):
            real.acquire()

        def __exit__(self, *exc):
            real.release()
            if hook:
                hook.pop()()

    handlers.lock = HookLock()
    session, second = ChatSession(), []
    handlers.enqueue(session, MOROCCO, "en")
    for view in handlers.drain(session, "en", 5, "extractive", False):
        if 'data-done="1"' in view.status and not second:  # next: the queue found empty
            def send() -> None:
                handlers.enqueue(session, MONTBELIARD, "en")
                second.extend(handlers.drain(session, "en", 5, "extractive", False))
            hook.append(send)
    assert second and "2.900" in bot(second[-1]), "the second question was left waiting"
    assert not session.pending and not session.busy and handlers.answering == 0


def test_stop_does_not_wait_for_a_silent_writer(handlers, monkeypatch):
    """An LLM can be silent for a minute before its first word: Stop ends the answer at once anyway."""
    def silent(question, k=None, generator=None, *, history=None, wait=None):
        time.sleep(3)
        yield "late words"

    monkeypatch.setattr(handlers.engine, "answer_stream", silent)
    session = ChatSession()
    handlers.enqueue(session, MOROCCO, "en")
    running = handlers.drain(session, "en", 5, "extractive", False)
    next(running)
    threading.Timer(0.2, handlers.stop, (session, "en")).start()
    t0 = time.perf_counter()
    rest = list(running)
    assert time.perf_counter() - t0 < 1.0
    assert session.shown.turns[0].outcome == "stopped" and "late words" not in bot(rest[-1])


def test_a_reload_shows_the_conversation_shown_before(handlers):
    session = ChatSession()
    ask(handlers, session, MOROCCO)
    stored = handlers.new_conversation(session, "en").stored  # then a new, empty conversation was shown
    view = handlers.load(ChatSession(), stored, "en")
    assert view.messages == [] and [title for title, _ in view.conversations] == ["…", MOROCCO]
    stored["current"] = stored["conversations"][0]["id"]
    assert handlers.load(ChatSession(), stored, "en").messages[0]["content"] == chat_text(MOROCCO)
