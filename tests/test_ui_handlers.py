"""The web UI's handlers as plain Python over a hash-embedder engine (the page itself: test_ui.py)."""
import pytest

pytest.importorskip("gradio", reason="pip install -e '.[test]'")

from amqa import Engine  # noqa: E402
from amqa.ui import ChatHandlers, chat_text, sources_html  # noqa: E402


@pytest.fixture
def handlers(docs_copy, tmp_path):
    return ChatHandlers(Engine(docs_copy, tmp_path / "store", "hash", progress=False))


def test_respond_shows_the_question_then_the_answer_and_its_sources(handlers):
    steps = [(history[-1]["content"], turn) for history, _, _, turn, _ in
             handlers.respond("Combien d'entreprises compte le bassin de Montbéliard ?", [], 5, True, "extractive", 0)]
    assert steps[0] == ("…", 0)  # the question shows at once; the turn marks completion only at the end
    assert len(steps) > 2 and all(turn == 0 for _, turn in steps[:-1])
    history, sources, passages, turn, status = list(handlers.respond("Où se trouve le campus marocain ?", [], 5,
                                                                     True, "extractive", 0))[-1]
    assert history[0]["role"] == "user" and history[-1]["role"] == "assistant"
    assert turn == 1 and r"\[1\]" in history[-1]["content"] and "▌" not in history[-1]["content"]
    assert 'data-turn="1"' in sources and "amqa-source" in sources and "<table>" in passages
    history, sources, *_ = list(handlers.respond("Combien d'entreprises compte le bassin de Montbéliard ?", [], 5,
                                                 False, "extractive", 1))[-1]
    assert "**2\\.900** entreprises" in history[-1]["content"]  # the answering number in bold, escaped
    assert "<strong>2.900</strong> entreprises" in sources
    assert "hash-v1" not in status and "quoted" in status


def test_empty_question_and_failures_become_messages(handlers, monkeypatch):
    (history, sources, *_), = list(handlers.respond("   ", [], 5, False, "extractive", 3))
    assert history == [] and "Type a question first." in sources

    def boom(*args, **kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(handlers.engine, "answer_stream", boom)
    history, sources, _, turn, _ = list(handlers.respond("Metz ?", [], 5, False, "extractive", 0))[-1]
    assert "could not be answered (RuntimeError)" in history[-1]["content"].replace("\\", "")
    assert turn == 1 and "could not be answered" in sources


def test_upload_indexes_safe_files_and_refuses_the_rest(handlers, tmp_path):
    good = tmp_path / "upload-1"
    good.write_text("La médiathèque de Cluny prête des imprimantes 3D.", encoding="utf-8")
    message, rows, note, cleared = handlers.upload([(str(good), "mediatheque.txt"), (str(good), "../evil.txt")])
    assert "Indexed mediatheque.txt" in message.replace("\\", "") and "refused" in message
    assert "mediatheque.txt" in [r[0] for r in rows] and cleared is None
    assert (handlers.engine.docs / "mediatheque.txt").is_file() and not (tmp_path / "evil.txt").exists()
    a = handlers.engine.answer("Que prête la médiathèque de Cluny ?")
    assert a.citations[0].source == "mediatheque.txt"


def test_text_from_documents_is_escaped():
    assert chat_text("<script>") == "\\<script\\>"
    assert "<script>" not in sources_html(None, 1, "<script>alert(1)</script>")


def test_sources_name_the_page_and_show_clean_quotes(tmp_path):
    """A slide and a Markdown file: the panel says "slide 2" and shows the quotes without their markup,
    in the whole passage too; the chat's answer has no markup either."""
    from make_files import CASES, write_all

    deck = next(c for c in CASES if c.name == "prototypes.odp")
    docs = write_all(tmp_path / "docs", [deck])
    (docs / "acces.md").write_text("# Accès\n\nLe **parking vélo** de la gare compte [112 places]"
                                   "(https://exemple.org/velo) depuis mars.\n", encoding="utf-8")
    handlers = ChatHandlers(Engine(docs, tmp_path / "store", "hash", progress=False))
    history, sources, *_ = list(handlers.respond(deck.fr.question, [], 5, False, "extractive", 0))[-1]
    assert f'data-page="{deck.fr.page}"' in sources and f"slide {deck.fr.page}" in sources
    history, sources, *_ = list(handlers.respond("Combien de places compte le parking vélo de la gare ?", [], 5,
                                                 False, "extractive", 1))[-1]
    assert 'data-source="acces.md" data-page=""' in sources and "p. " not in sources
    assert "parking vélo de la gare compte <strong>112</strong> places depuis mars." in sources
    assert "**" not in sources and "https://" not in sources and "# Accès" not in sources
    assert "https" not in history[-1]["content"] and "parking vélo" in history[-1]["content"]
