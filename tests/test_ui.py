"""The web UI, served for real on a loopback port and driven by Playwright in Debian's headless Chromium."""
import os
import shutil
import socket
import statistics
import subprocess
import sys
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
MOROCCO = "Où Arts et Métiers va-t-il ouvrir un campus au Maroc ?"
ARTICLE_000 = "000_c8fb014e83a46547.txt"
ENSMM = "001_3c9c59b90a3a1c43.txt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def own_settings(base: Path):
    """Settings of a test server: its own home (module fixtures start before the per-test one)."""
    from amqa.settings import Settings

    return Settings.from_env({"AMQA_HOME": str(base / "home")})


@pytest.fixture(scope="module")
def server(tmp_path_factory, seed_store):
    from amqa import Engine
    from amqa.index.local.store import update_index
    from amqa.frontends.ui import build_app, serve

    base = tmp_path_factory.mktemp("ui")
    docs = base / "docs"
    shutil.copytree(ROOT / "seeds", docs)
    for f in docs.iterdir():
        f.chmod(0o644)
    (docs / "xss.txt").write_text(XSS, encoding="utf-8")
    shutil.copytree(seed_store, base / "store")  # the seeds' index: only xss.txt is embedded here
    update_index(docs, base / "store")
    engine = Engine(docs, base / "store", progress=False, settings=own_settings(base))
    real_stream = engine.answer_stream

    def stream_or_fail(question, k=None, generator=None, *, history=None, wait=None):  # failure injection, one question
        if "BOOM-TEST" in question:
            raise RuntimeError("injected failure")
        return real_stream(question, k=k, generator=generator, history=history, wait=wait)

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


def open_page(browser, url: str, locale: str = "en-US", height: int = 1300):
    """A new browser session (its own storage) on the app, once the page has loaded its conversations."""
    context = browser.new_context(viewport={"width": 1200, "height": height}, locale=locale)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_selector("#amqa-question textarea")
    page.wait_for_selector("#amqa-status .amqa-status", state="attached", timeout=60_000)
    return page


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server["url"])
    yield page
    page.context.close()


def done(page) -> int:
    return int(page.locator("#amqa-status .amqa-status").get_attribute("data-done"))


def submit(page, question: str) -> int:
    """Type the question, press Enter; returns the count of completed answers that marks its answer."""
    expected = done(page) + 1 + int(page.locator("#amqa-status .amqa-status").get_attribute("data-waiting"))
    box = page.locator("#amqa-question textarea")
    box.fill(question)
    box.press("Enter")
    return expected


def wait_done(page, n: int, timeout: float = 60_000) -> None:
    page.wait_for_selector(f'#amqa-status .amqa-status[data-done="{n}"]', state="attached", timeout=timeout)


def bots(page):
    return page.locator('#amqa-chat [data-testid="bot"]')


def users(page) -> list[str]:
    return page.locator('#amqa-chat [data-testid="user"]').all_inner_texts()


def last_answer(page) -> tuple[str, str]:
    """The last answer's text and the text of its sources (opened), read from the page."""
    bot = bots(page).last
    text = bot.inner_text()
    if bot.locator("details.amqa-sources").count():
        summary = bot.locator("details.amqa-sources > summary")
        text = text.split(summary.inner_text())[0]
        summary.click()
    sources = " ".join(bot.locator(".amqa-source").all_inner_texts())
    return text.strip(), sources


def ask(page, question: str) -> tuple[str, str]:
    wait_done(page, submit(page, question))
    return last_answer(page)


def source_files(page, i: int = -1) -> list[str]:
    bot = bots(page).nth(i) if i >= 0 else bots(page).last
    return bot.locator(".amqa-source .amqa-file").all_inner_texts()


def test_french_question_cites_the_french_file_by_title_and_file(page):
    bot, sources = ask(page, "Combien d'élèves ingénieurs l'école de Besançon forme-t-elle par an ?")
    assert bot.startswith("D'après les documents") and "[1]" in bot and "900" in bot
    first = bots(page).last.locator(".amqa-source").first
    assert source_files(page)[0] == ENSMM
    assert "[1] Arts et Métiers étoffe son réseau d’écoles partenaires · 001_3c9c59b90a3a1c43.txt" in sources
    # The cited sentence is highlighted inside its passage, which opens on a click.
    first.locator("details summary").click()
    assert "900 élèves ingénieurs" in first.locator("details mark").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "answer.png"), full_page=True)


def test_a_marker_links_to_its_source_under_the_answer(page):
    ask(page, "Combien d'entreprises compte le bassin de Montbéliard ?")
    bot = bots(page).last
    bot.locator("details.amqa-sources > summary").click()  # close what last_answer opened
    assert not bot.locator("details.amqa-sources").evaluate("d => d.open")
    link = bot.locator("a.amqa-ref").first
    target = link.get_attribute("href")[1:]
    link.click()
    assert bot.locator("details.amqa-sources").evaluate("d => d.open")
    assert page.locator(f"#{target}").is_visible() and page.locator(f"#{target}.amqa-flash").count() == 1


def test_english_question_about_a_french_document(page):
    bot, sources = ask(page, "When did ENSMM and Arts et Métiers sign their partnership agreement?")
    assert bot.startswith("According to the documents") and "18 février 2016" in bot
    assert ENSMM in source_files(page)


def test_off_topic_question_shows_the_abstention(page):
    bot, sources = ask(page, "Quel temps fera-t-il demain à Lyon ?")
    assert bot == "Les documents ne contiennent pas de réponse à cette question."
    assert sources == "" and source_files(page) == []


def test_html_in_a_document_or_a_question_is_shown_never_run(page):
    bot, sources = ask(page, 'Quel alliage secret teste Cluny ? <img src=x onerror="window.__pwned = 3">')
    assert "Zorbium" in bot and "<script>" in bot and "<script>" in sources
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert page.locator("#amqa-chat script, #amqa-chat img[src=x]").count() == 0
    assert '<img src=x onerror="window.__pwned = 3">' in page.locator("#amqa-chat").inner_text()


def test_errors_become_chat_messages_and_the_server_keeps_serving(page):
    bot, _ = ask(page, "BOOM-TEST: what happens on a failure?")
    assert "could not be answered" in bot and "RuntimeError" in bot and "Traceback" not in bot
    box = page.locator("#amqa-question textarea")
    box.fill("   ")
    box.press("Enter")
    page.locator("#amqa-status").get_by_text("Type a question first.").wait_for()
    bot, _ = ask(page, "Où se trouve le campus marocain ?")
    assert bot.startswith("D'après les documents") and ARTICLE_000 in source_files(page)


def test_a_follow_up_is_answered_from_the_conversation(page):
    """The UI passes the conversation so far: "Et quand ?" after the question about the Moroccan
    campus cites the article that dates it, and says what it searched."""
    bot, _ = ask(page, MOROCCO)
    assert ARTICLE_000 in source_files(page)
    bot, sources = ask(page, "Et quand ?")
    assert source_files(page)[0] == ARTICLE_000 and "2024" in sources.split("[2]")[0]
    assert "Recherché" not in bot and "Searched:" in bot and "Maroc" in bot.split("Searched:")[1]
    assert users(page) == [MOROCCO, "Et quand ?"]


def test_two_quick_questions_are_both_answered_and_typing_meanwhile_is_kept(page):
    first, second = "Où se trouve le campus marocain ?", "Combien d'entreprises compte le bassin de Montbéliard ?"
    before = done(page)
    box = page.locator("#amqa-question textarea")
    box.fill(first)
    box.press("Enter")
    page.wait_for_timeout(150)  # the first answer is on its way...
    box.press_sequentially(second, delay=15)  # ...while the next question is typed, key by key
    assert box.input_value() == second
    box.press("Enter")
    page.wait_for_function("document.querySelector('#amqa-question textarea').value === ''", timeout=1_000)
    wait_done(page, before + 2)
    assert users(page)[-2:] == [first, second]  # neither lost nor cut
    answers = bots(page).all_inner_texts()[-2:]
    assert "Rabat" in answers[0] and "2.900" in answers[1]
    third = "Quel est le budget du second AMI ?"
    box.press_sequentially(third, delay=5)
    assert box.input_value() == third  # nothing emptied the box behind the user's back


def test_each_answer_keeps_its_own_sources(page):
    ask(page, "Où se trouve le campus marocain ?")
    ask(page, "Combien d'élèves ingénieurs l'école de Besançon forme-t-elle par an ?")
    assert ARTICLE_000 in source_files(page, 0) and source_files(page, 1)[0] == ENSMM
    assert bots(page).count() == 2 and page.locator("#amqa-chat details.amqa-sources").count() == 2
    ids = page.locator("#amqa-chat .amqa-source").evaluate_all("els => els.map(e => e.id)")
    assert len(ids) == len(set(ids))  # anchors never collide between answers


def test_an_example_is_asked_on_click(page):
    before = done(page)
    page.locator("#amqa-examples").get_by_text("Where will the Moroccan campus of Arts et Métiers open?").click()
    wait_done(page, before + 1)
    assert users(page) == ["Where will the Moroccan campus of Arts et Métiers open?"]
    assert "Rabat" in bots(page).last.inner_text()


def test_a_reload_keeps_the_conversations_and_clear_removes_one(page):
    bot, _ = ask(page, "Où se trouve le campus marocain ?")
    page.reload()
    page.wait_for_selector("#amqa-status .amqa-status", state="attached")
    page.locator('#amqa-chat [data-testid="bot"]').first.wait_for()
    assert users(page) == ["Où se trouve le campus marocain ?"] and bots(page).last.inner_text().startswith(bot)
    page.locator("#amqa-new").click()
    page.wait_for_function("document.querySelectorAll('#amqa-chat [data-testid=user]').length === 0")
    ask(page, "Combien d'entreprises compte le bassin de Montbéliard ?")
    conversations = page.locator("#amqa-conversations")
    conversations.get_by_text("Combien d'entreprises").wait_for()
    assert conversations.get_by_text("Où se trouve le campus marocain ?").count() == 1
    conversations.get_by_text("Où se trouve le campus marocain ?").click()  # back to the first one
    page.wait_for_function("[...document.querySelectorAll('#amqa-chat [data-testid=user]')]"
                           ".map(e => e.innerText).join() === 'Où se trouve le campus marocain ?'")
    page.locator("#amqa-clear").click()
    page.wait_for_function("document.querySelectorAll('#amqa-chat [data-testid=user]').length === 0")
    page.reload()
    page.wait_for_selector("#amqa-status .amqa-status", state="attached")
    page.locator("#amqa-conversations").get_by_text("Combien d'entreprises").wait_for()
    assert page.locator("#amqa-conversations").get_by_text("Où se trouve le campus marocain ?").count() == 0
    assert users(page) == []


def test_the_interface_speaks_french_to_a_french_browser(browser, server):
    page = open_page(browser, server["url"], locale="fr-FR")
    try:
        assert page.locator("#amqa-send").inner_text() == "Envoyer"
        assert page.get_by_role("tab").all_inner_texts() == ["Discussion", "Documents"]
        assert page.locator("#amqa-question textarea").get_attribute("placeholder").startswith("Posez une question")
        assert "Posez une question pour commencer." in page.locator("#amqa-status").inner_text()
        page.locator("#amqa-question textarea").press("Enter")
        page.locator("#amqa-status").get_by_text("Écrivez d'abord une question.").wait_for()
        wait_done(page, submit(page, "Where will the Moroccan campus open?"))
        assert "Afficher le passage entier" in bots(page).last.inner_html()
        page.get_by_role("tab", name="Documents").click()
        page.locator("#amqa-docs-info").get_by_text("fichiers indexés").wait_for()
        assert "titre" in page.locator("#amqa-docs-table").inner_text()
        assert "Ajouter des documents (.txt, .md" in page.locator("#amqa-upload").inner_text()
        assert page.get_by_role("button", name="Réindexer").count() == 1
    finally:
        page.context.close()


def test_a_file_removed_on_disk_is_no_longer_cited(page, server):
    gym = server["docs"] / "gymnase.txt"
    gym.write_text("Le gymnase du campus d'Angers ferme à 22 h 30 le vendredi.", encoding="utf-8")
    question = "À quelle heure ferme le gymnase du campus d'Angers le vendredi ?"
    bot, _ = ask(page, question)  # added on disk: found before this answer, with no upload or re-index
    assert "22 h 30" in bot and source_files(page)[0] == "gymnase.txt"
    gym.unlink()
    bot, _ = ask(page, question)
    assert "gymnase.txt" not in source_files(page) and "22 h 30" not in bot


def open_documents(page):
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_selector("#amqa-upload input[type=file]", state="attached")
    page.locator("#amqa-docs-info").get_by_text("files indexed").wait_for()


def test_upload_then_delete_with_a_confirmation(page, server, browser):
    open_documents(page)
    page.locator("#amqa-upload input[type=file]").set_input_files(files=[{
        "name": "bibliotheque.md", "mimeType": "text/markdown",
        "buffer": "# Bibliothèque\n\nLa bibliothèque du campus de Metz ouvre à 7 h 45 le samedi.".encode()}])
    result = page.locator("#amqa-upload-result")
    result.get_by_text("Indexed").wait_for(timeout=60_000)
    assert "bibliotheque.md" in result.inner_text() and (server["docs"] / "bibliotheque.md").is_file()
    assert "bibliotheque.md" in page.locator("#amqa-docs-table").inner_text()
    # Another session's list is read afresh: it shows the new file.
    other = open_page(browser, server["url"])
    open_documents(other)
    other.locator("#amqa-docs-table").get_by_text("bibliotheque.md").wait_for()
    other.context.close()
    page.get_by_role("tab", name="Chat").click()
    question = "À quelle heure ouvre la bibliothèque de Metz le samedi ?"
    bot, _ = ask(page, question)
    assert "7 h 45" in bot and source_files(page)[0] == "bibliotheque.md"
    assert "Bibliothèque · bibliotheque.md" in bots(page).last.locator(".amqa-source").first.inner_text()

    open_documents(page)
    page.locator("#amqa-delete-pick input").click()
    page.get_by_role("option", name="bibliotheque.md").click()
    page.locator("#amqa-delete").click()
    confirm = page.locator("#amqa-confirm-text")
    confirm.get_by_text("Delete bibliotheque.md").wait_for()
    assert (server["docs"] / "bibliotheque.md").is_file()  # nothing deleted before the confirmation
    page.locator("#amqa-confirm-yes").click()
    result.get_by_text("Deleted bibliotheque.md").wait_for(timeout=60_000)
    assert not (server["docs"] / "bibliotheque.md").exists()
    assert "bibliotheque.md" not in page.locator("#amqa-docs-table").inner_text()
    page.get_by_role("tab", name="Chat").click()
    bot, _ = ask(page, question)
    assert "bibliotheque.md" not in source_files(page) and "7 h 45" not in bot


def test_cancel_keeps_the_document_and_reindex_reports(page, server):
    open_documents(page)
    page.locator("#amqa-delete-pick input").click()
    page.get_by_role("option", name="xss.txt").click()
    page.locator("#amqa-delete").click()
    page.locator("#amqa-confirm-text").get_by_text("Delete xss.txt").wait_for()
    page.locator("#amqa-confirm-no").click()
    page.locator("#amqa-confirm-yes").wait_for(state="hidden")
    assert (server["docs"] / "xss.txt").is_file()
    page.locator("#amqa-reindex").click()
    page.locator("#amqa-upload-result").get_by_text("unchanged").wait_for(timeout=60_000)
    assert "xss.txt" in page.locator("#amqa-docs-table").inner_text()


def test_upload_with_a_path_in_its_name_is_refused(page, server):
    open_documents(page)
    page.locator("#amqa-upload input[type=file]").set_input_files(files=[{
        "name": "../../evil.txt", "mimeType": "text/plain", "buffer": b"Evil content."}])
    result = page.locator("#amqa-upload-result")
    result.get_by_text("refused").wait_for(timeout=30_000)
    assert "evil.txt" in result.inner_text()
    assert not list(server["base"].rglob("evil*.txt"))
    assert not (server["docs"].parent.parent / "evil.txt").exists()


def test_an_upload_the_index_skips_is_reported_not_indexed(page, server):
    # Issue 14, case 9: a program renamed .pdf was reported "Indexed" and kept.
    open_documents(page)
    page.locator("#amqa-upload input[type=file]").set_input_files(files=[{
        "name": "prog.pdf", "mimeType": "application/pdf", "buffer": b"\x7fELF\x02\x01\x01\x00" + bytes(4096)}])
    result = page.locator("#amqa-upload-result")
    result.get_by_text("not indexed").wait_for(timeout=60_000)
    assert "prog.pdf" in result.inner_text() and "Indexed" not in result.inner_text()
    assert not (server["docs"] / "prog.pdf").exists()
    assert "prog.pdf" not in page.locator("#amqa-docs-table").inner_text()


def test_more_simultaneous_users_than_answer_slots_all_get_answers(browser, server):
    # One user more than the chat's concurrency limit (4): every slot is busy and one question waits
    # in the queue. (Each Gradio page costs about 3 s of CPU to load on 2 cores: 5 users, not 8.)
    questions = ["Où se trouve le campus marocain ?", "Who directs the AMTalents programme?",
                 "Quel est le budget du second AMI ?", "When was the FIMME agreement signed?",
                 "Combien d'entreprises compte le bassin de Montbéliard ?"]
    pages = [open_page(browser, server["url"]) for _ in questions]  # one session per user
    expected = [submit(p, q) for p, q in zip(pages, questions)]
    for p, n in zip(pages, expected):
        wait_done(p, n)
    answers = [bots(p).last.inner_text() for p in pages]
    asked = [users(p) for p in pages]
    for p in pages:
        p.context.close()
    assert asked == [[q] for q in questions]  # each session holds its own conversation
    for bot in answers:
        assert bot.startswith(("D'après les documents", "According to the documents")), bot
        assert "Sources (" in bot


def test_time_from_enter_to_complete_answer(page, capsys):
    questions = ["Combien d'apprentis sont formés à Arts et Métiers ?", "Where will the Moroccan campus open?",
                 "Qui a signé la convention pour l'ENSMM ?", "How many companies does FIMME gather?",
                 "Quand l'antenne du Cnam a-t-elle été inaugurée ?", "What is the goal for apprentices in 2027?",
                 "Combien de projets l'AMI a-t-il retenus ?", "Who is the president of Arts et Métiers?",
                 "Quel projet porte le campus de Bordeaux ?", "How many Mastères Spécialisés are there?"]
    times = []
    for q in questions:
        t0 = time.perf_counter()
        wait_done(page, submit(page, q))
        times.append(time.perf_counter() - t0)
        assert "▌" not in bots(page).last.inner_text()
    p50 = statistics.median(times)
    with capsys.disabled():
        print(f"\nUI: Enter to complete answer over {len(times)} questions (a growing conversation): "
              f"p50 {p50 * 1000:.0f} ms, max {max(times) * 1000:.0f} ms, first {times[0] * 1000:.0f} ms")
    assert p50 < 10, "an answer should arrive in seconds"


def test_screenshot_of_a_three_turn_conversation(browser, server):
    """The README's docs/screenshot-conversation.png is a copy of the file this test writes."""
    page = open_page(browser, server["url"], height=2000)
    try:
        for question in (MOROCCO, "Et quand ?", "Combien d'élèves ingénieurs l'école de Besançon forme-t-elle par an ?"):
            wait_done(page, submit(page, question))
        summaries = page.locator("#amqa-chat details.amqa-sources > summary")
        assert summaries.count() == 3  # one block of sources under each answer; the last one opened
        summaries.nth(2).click()
        page.locator("#amqa-chat .amqa-source").last.locator("details > summary").click()
        page.locator("#amqa-chat").evaluate("e => e.querySelectorAll('.bubble-wrap, [role=log]').forEach(x => "
                                            "x.scrollTop = 0)")
        page.mouse.move(0, 0)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "screenshot-conversation.png"), full_page=True)
        assert (ARTIFACTS / "screenshot-conversation.png").stat().st_size > 50_000
    finally:
        page.context.close()


@pytest.fixture(scope="module")
def seeds_server(tmp_path_factory):
    """The UI over the bundled seeds, as `amqa serve` runs it with no --docs (hash embedder: this is
    about where files go; test_upload_then_delete_with_a_confirmation runs the upload with the model)."""
    from amqa import Engine
    from amqa.frontends.ui import build_app, serve

    base = tmp_path_factory.mktemp("seeds-ui")
    app = build_app(Engine(embedder="hash", progress=False, settings=own_settings(base)))
    port = free_port()
    serve(app, "127.0.0.1", port, block=False)
    yield {"url": f"http://127.0.0.1:{port}/", "base": base}
    app.close()


def test_serving_the_seeds_and_uploading_leaves_the_checkout_clean(browser, seeds_server):
    from amqa.settings import bundled_seeds

    seeds = {p.name: p.read_bytes() for p in bundled_seeds().iterdir()}
    page = open_page(browser, seeds_server["url"])
    try:
        open_documents(page)
        page.locator("#amqa-upload input[type=file]").set_input_files(files=[{
            "name": "cafeteria.txt", "mimeType": "text/plain",
            "buffer": "La cafétéria du campus de Lille ouvre à 7 h 30.".encode()}])
        page.locator("#amqa-upload-result").get_by_text("Indexed").wait_for(timeout=60_000)
        assert "library/cafeteria.txt" in page.locator("#amqa-docs-table").inner_text()
    finally:
        page.context.close()
    assert (seeds_server["base"] / "home" / "library" / "cafeteria.txt").is_file()
    assert {p.name: p.read_bytes() for p in bundled_seeds().iterdir()} == seeds
    if (ROOT / ".git").exists():
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
        assert "cafeteria" not in status and "seeds/" not in status, status


def _llm_ui(tmp_path_factory, seed_store, model: str, timeout: float, reply: str | None = None):
    """The UI over the seeds with an LLM writer on a loopback fake LLM (``reply``: its scripted reply)."""
    from amqa import Engine
    from amqa.writers.llm.models import OpenAIChat
    from amqa.frontends.ui import build_app, serve

    sys.path.insert(0, str(Path(__file__).parent))
    from fake_llm import FakeLLM

    base = tmp_path_factory.mktemp(model)
    docs = base / "docs"
    shutil.copytree(ROOT / "seeds", docs)
    llm = FakeLLM()
    if reply is not None:
        llm.reply(reply)
    engine = Engine(docs, seed_store, progress=False, settings=own_settings(base),
                    generator=OpenAIChat(llm.url, model, timeout=timeout))
    app = build_app(engine)
    port = free_port()
    serve(app, "127.0.0.1", port, block=False)
    yield {"url": f"http://127.0.0.1:{port}/", "llm": llm}
    app.close()
    llm.close()


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory, seed_store):
    yield from _llm_ui(tmp_path_factory, seed_store, "ui-model", timeout=5)


def test_llm_answer_streams_in_verified_or_falls_back_visibly(browser, llm_server):
    import re

    def cite_ensmm(messages, claim):
        n = re.search(r'<source n="(\d+)" file="001_3c9c59b90a3a1c43.txt">', messages[-1]["content"]).group(1)
        return 200, f"{claim} [{n}]."

    llm = llm_server["llm"]
    page = open_page(browser, llm_server["url"])
    question = "En quelle année la convention entre l'ENSMM et Arts et Métiers a-t-elle été signée ?"
    llm.server.script = lambda m: cite_ensmm(m, "La convention a été signée le 18 février 2016")
    bot, _ = ask(page, question)
    assert bot == "La convention a été signée le 18 février 2016 [1]."
    assert source_files(page) == [ENSMM]
    assert "verified" in page.locator("#amqa-status").inner_text()

    llm.server.script = lambda m: cite_ensmm(m, "La convention a été signée en 2031 par 4 000 ministres")
    bot, _ = ask(page, question)
    assert bot.startswith("⚠️ The LLM answer was not shown") and "2031" not in bot and "D'après les documents" in bot
    page.context.close()


def test_stop_ends_an_answer_at_once_even_while_the_llm_is_silent(browser, llm_server):
    from fake_llm import HANG

    llm = llm_server["llm"]
    llm.server.hang_seconds = 4
    llm.reply(HANG)
    page = open_page(browser, llm_server["url"])
    try:
        expected = submit(page, "En quelle année la convention entre l'ENSMM et Arts et Métiers a-t-elle été signée ?")
        page.wait_for_selector('#amqa-status .amqa-status[data-busy="1"]', state="attached")
        page.wait_for_timeout(300)
        t0 = time.perf_counter()
        page.locator("#amqa-stop").click()
        wait_done(page, expected, timeout=3_000)
        assert time.perf_counter() - t0 < 2.0  # the LLM still hangs for seconds
        assert "Stopped" in bots(page).last.inner_text() and users(page) == [
            "En quelle année la convention entre l'ENSMM et Arts et Métiers a-t-elle été signée ?"]
        llm.reply("Les documents ne contiennent pas de réponse à cette question.")
        time.sleep(4)  # the silent request ends on its own before the next question
        bot, _ = ask(page, "Où se trouve le campus marocain ?")
        assert "Stopped" not in bot and bot
    finally:
        page.context.close()


@pytest.mark.slow
def test_amqa_serve_does_not_advise_share_true(tmp_path):
    """Gradio's start-up hint ("set `share=True` in `launch()`") is not how amqa shares (--share)."""
    port = free_port()
    env = {**os.environ, "AMQA_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "amqa.frontends.cli", "serve", "--port", str(port), "--embedder", "hash"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.5)
        time.sleep(1)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"serving on http://127.0.0.1:{port}" in out
    assert "share=True" not in out and "public link" not in out


@pytest.fixture(scope="module")
def endless_llm_server(tmp_path_factory, seed_store):
    """The UI with an LLM writer whose every reply streams a word every 0.5 s until its 90 s deadline."""
    sys.path.insert(0, str(Path(__file__).parent))
    from fake_llm import ENDLESS

    yield from _llm_ui(tmp_path_factory, seed_store, "slow-model", timeout=90, reply=ENDLESS)


def choose_writer(page, name: str) -> None:
    page.get_by_role("button", name="Settings ▼").click()
    page.locator("#amqa-writer input").click()
    page.get_by_role("option", name=name).click()


def test_endless_llm_streams_do_not_hold_up_extractive_answers(browser, endless_llm_server):
    # Issue 14: 4 endless LLM streams held every answering slot; a 5th user's extractive question
    # then waited for the LLM's deadline.
    llm = endless_llm_server["llm"]
    streaming = [open_page(browser, endless_llm_server["url"]) for _ in range(4)]
    for p in streaming:
        submit(p, "Où se trouve le campus marocain ?")
    deadline = time.monotonic() + 60
    while len(llm.requests) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(llm.requests) == 4, "the 4 LLM answers did not all start"
    page = open_page(browser, endless_llm_server["url"])
    choose_writer(page, "extractive")
    t0 = time.perf_counter()
    wait_done(page, submit(page, "Combien d'entreprises compte le bassin de Montbéliard ?"), timeout=30_000)
    took = time.perf_counter() - t0
    bot = bots(page).last.inner_text()
    assert bot.startswith("D'après les documents") and "2.900" in bot, bot
    assert all(done(p) == 0 for p in streaming), "an LLM answer ended before its deadline"
    for p in streaming + [page]:
        p.locator("#amqa-stop").click()
        p.context.close()
    assert took < 30, f"{took:.1f} s"
