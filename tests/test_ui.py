"""The web UI, served for real on a loopback port and driven by Playwright in Debian's headless Chromium."""
import os
import shutil
import socket
import statistics
import time
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="pip install -e '.[test]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
# Skipped on a machine without Chromium, except where AMQA_REQUIRE_BROWSER is set (.ci/run sets it).
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("AMQA_REQUIRE_BROWSER"),
                                 reason="apt-get install chromium (.ci/run does)")]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
XSS = ('Le laboratoire de Cluny teste un alliage secret nommé Zorbium. <script>window.__pwned = 1; alert("x")</script>'
       ' <img src=x onerror="window.__pwned = 2"> Le Zorbium résiste à 900 degrés.\n')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, seed_store):
    from amqa import Engine
    from amqa.store import update_index
    from amqa.ui import build_app, serve

    base = tmp_path_factory.mktemp("ui")
    docs = base / "docs"
    shutil.copytree(ROOT / "seeds", docs)
    for f in docs.iterdir():
        f.chmod(0o644)
    (docs / "xss.txt").write_text(XSS, encoding="utf-8")
    shutil.copytree(seed_store, base / "store")  # the seeds' index: only xss.txt is embedded here
    update_index(docs, base / "store")
    engine = Engine(docs, base / "store", progress=False)
    real_stream = engine.answer_stream

    def stream_or_fail(question, k=None, generator=None):  # failure injection for one magic question
        if "BOOM-TEST" in question:
            raise RuntimeError("injected failure")
        return real_stream(question, k=k, generator=generator)

    engine.answer_stream = stream_or_fail
    app = build_app(engine)
    port = free_port()
    serve(app, "127.0.0.1", port, block=False)
    yield {"url": f"http://127.0.0.1:{port}/", "docs": docs, "base": base}
    app.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1200, "height": 1300})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(server["url"])
    page.wait_for_selector("#amqa-question textarea")
    yield page
    context.close()


def submit(page, question: str) -> int:
    """Type the question, press Enter; returns the turn number that marks the complete answer."""
    turn = int(page.locator("#amqa-sources .amqa-panel").get_attribute("data-turn")) + 1
    box = page.locator("#amqa-question textarea")
    box.fill(question)
    box.press("Enter")
    return turn


def wait_answer(page, turn: int) -> tuple[str, str]:
    page.wait_for_selector(f'#amqa-sources .amqa-panel[data-turn="{turn}"]', timeout=60_000)
    bot = page.locator('#amqa-chat [data-testid="bot"]').last.inner_text()
    return bot, page.locator("#amqa-sources").inner_text()


def ask(page, question: str) -> tuple[str, str]:
    return wait_answer(page, submit(page, question))


def test_french_question_cites_the_french_file(page):
    bot, sources = ask(page, "Combien d'élèves ingénieurs l'école de Besançon forme-t-elle par an ?")
    assert bot.startswith("D'après les documents") and "[1]" in bot and "900" in bot
    assert "[1] 001_3c9c59b90a3a1c43.txt" in sources
    # The cited sentence is highlighted inside its chunk, which opens on a click.
    page.locator("#amqa-sources details summary").first.click()
    assert "900 élèves ingénieurs" in page.locator("#amqa-sources details mark").first.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)  # the README's docs/screenshot.png is a copy of this file
    page.screenshot(path=str(ARTIFACTS / "answer.png"), full_page=True)


def test_english_question_about_a_french_document(page):
    bot, sources = ask(page, "When did ENSMM and Arts et Métiers sign their partnership agreement?")
    assert bot.startswith("According to the documents") and "18 février 2016" in bot
    assert "001_3c9c59b90a3a1c43.txt" in sources


def test_off_topic_question_shows_the_abstention(page):
    bot, sources = ask(page, "Quel temps fera-t-il demain à Lyon ?")
    assert bot == "Les documents ne contiennent pas de réponse à cette question."
    assert ".txt" not in sources


def test_html_in_a_document_or_a_question_is_shown_never_run(page):
    bot, sources = ask(page, 'Quel alliage secret teste Cluny ? <img src=x onerror="window.__pwned = 3">')
    assert "Zorbium" in bot and "<script>" in bot and "<script>" in sources
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert page.locator("#amqa-chat script, #amqa-sources script, #amqa-chat img[src=x]").count() == 0
    assert '<img src=x onerror="window.__pwned = 3">' in page.locator("#amqa-chat").inner_text()


def test_errors_become_chat_messages_and_the_server_keeps_serving(page):
    bot, sources = ask(page, "BOOM-TEST: what happens on a failure?")
    assert "could not be answered" in bot and "RuntimeError" in bot and "Traceback" not in bot
    bot, _ = ask(page, "   ")
    assert "Type a question first." in page.locator("#amqa-sources").inner_text()
    bot, sources = ask(page, "Où se trouve le campus marocain ?")
    assert bot.startswith("D'après les documents") and ".txt" in sources


def open_documents(page):
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_selector("#amqa-upload input[type=file]", state="attached")


def test_uploaded_file_becomes_answerable(page, server):
    open_documents(page)
    page.locator("#amqa-upload input[type=file]").set_input_files(files=[{
        "name": "bibliotheque.md", "mimeType": "text/markdown",
        "buffer": "# Bibliothèque\n\nLa bibliothèque du campus de Metz ouvre à 7 h 45 le samedi.".encode()}])
    result = page.locator("#amqa-upload-result")
    result.get_by_text("Indexed").wait_for(timeout=60_000)
    assert "bibliotheque.md" in result.inner_text()
    assert (server["docs"] / "bibliotheque.md").is_file()
    assert "bibliotheque.md" in page.locator("#amqa-docs-table").inner_text()
    page.get_by_role("tab", name="Chat").click()
    bot, sources = ask(page, "À quelle heure ouvre la bibliothèque de Metz le samedi ?")
    assert "7 h 45" in bot and "bibliotheque.md" in sources


def test_upload_with_a_path_in_its_name_is_refused(page, server):
    open_documents(page)
    page.locator("#amqa-upload input[type=file]").set_input_files(files=[{
        "name": "../../evil.txt", "mimeType": "text/plain", "buffer": b"Evil content."}])
    result = page.locator("#amqa-upload-result")
    result.get_by_text("refused").wait_for(timeout=30_000)
    assert "evil.txt" in result.inner_text()
    assert not list(server["base"].rglob("evil*.txt"))
    assert not (server["docs"].parent.parent / "evil.txt").exists()


def test_more_simultaneous_users_than_answer_slots_all_get_answers(browser, server):
    # One user more than the chat's concurrency limit (4): every slot is busy and one question waits
    # in the queue. (Each Gradio page costs about 3 s of CPU to load on 2 cores: 5 users, not 8.)
    questions = ["Où se trouve le campus marocain ?", "Who directs the AMTalents programme?",
                 "Quel est le budget du second AMI ?", "When was the FIMME agreement signed?",
                 "Combien d'entreprises compte le bassin de Montbéliard ?"]
    contexts = [browser.new_context() for _ in questions]  # one session per user
    pages = [c.new_page() for c in contexts]
    for p in pages:  # the pages load at the same time
        p.goto(server["url"], wait_until="commit")
    for p in pages:
        p.wait_for_selector("#amqa-question textarea", timeout=60_000)
    turns = [submit(p, q) for p, q in zip(pages, questions)]
    answers = [wait_answer(p, t) for p, t in zip(pages, turns)]
    for c in contexts:
        c.close()
    assert len(answers) == len(questions) == 5
    for bot, sources in answers:
        assert bot.startswith(("D'après les documents", "According to the documents")), bot
        assert ".txt" in sources


def test_time_from_enter_to_complete_answer(page, capsys):
    questions = ["Combien d'apprentis sont formés à Arts et Métiers ?", "Where will the Moroccan campus open?",
                 "Qui a signé la convention pour l'ENSMM ?", "How many companies does FIMME gather?",
                 "Quand l'antenne du Cnam a-t-elle été inaugurée ?", "What is the goal for apprentices in 2027?",
                 "Combien de projets l'AMI a-t-il retenus ?", "Who is the president of Arts et Métiers?",
                 "Quel projet porte le campus de Bordeaux ?", "How many Mastères Spécialisés are there?"]
    times = []
    for q in questions:
        t0 = time.perf_counter()
        bot, _ = ask(page, q)
        times.append(time.perf_counter() - t0)
        assert bot and "▌" not in bot
    p50 = statistics.median(times)
    with capsys.disabled():
        print(f"\nUI: Enter to complete answer over {len(times)} questions: p50 {p50 * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms, first {times[0] * 1000:.0f} ms")
    assert p50 < 10, "an answer should arrive in seconds"


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory, seed_store):
    import sys as _sys

    from amqa import Engine
    from amqa.llm import OpenAIChat
    from amqa.ui import build_app, serve

    _sys.path.insert(0, str(Path(__file__).parent))
    from fake_llm import FakeLLM

    llm = FakeLLM()
    engine = Engine(ROOT / "seeds", seed_store, progress=False, generator=OpenAIChat(llm.url, "ui-model", timeout=5))
    app = build_app(engine)
    port = free_port()
    serve(app, "127.0.0.1", port, block=False)
    yield {"url": f"http://127.0.0.1:{port}/", "llm": llm}
    app.close()
    llm.close()


def test_llm_answer_streams_in_verified_or_falls_back_visibly(browser, llm_server):
    import re

    def cite_ensmm(messages, claim):
        n = re.search(r'<source n="(\d+)" file="001_3c9c59b90a3a1c43.txt">', messages[-1]["content"]).group(1)
        return 200, f"{claim} [{n}]."

    llm = llm_server["llm"]
    context = browser.new_context()
    page = context.new_page()
    page.goto(llm_server["url"])
    page.wait_for_selector("#amqa-question textarea")
    question = "En quelle année la convention entre l'ENSMM et Arts et Métiers a-t-elle été signée ?"
    llm.server.script = lambda m: cite_ensmm(m, "La convention a été signée le 18 février 2016")
    bot, sources = ask(page, question)
    assert bot == "La convention a été signée le 18 février 2016 [1]."
    assert "001_3c9c59b90a3a1c43.txt" in sources
    assert "verified" in page.locator("#amqa-status").inner_text()

    llm.server.script = lambda m: cite_ensmm(m, "La convention a été signée en 2031 par 4 000 ministres")
    bot, _ = ask(page, question)
    assert bot.startswith("⚠️ The LLM answer was not shown") and "2031" not in bot and "D'après les documents" in bot
    context.close()
