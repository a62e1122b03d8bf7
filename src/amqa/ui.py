"""The Gradio chat UI: a thin layer over :class:`amqa.Engine`.

    python app.py                    # or: amqa serve (the CLI parses the flags)
    python app.py --port 8000 --docs ~/my-docs

In Python::

    from amqa.ui import build_app, serve
    serve(build_app(), "127.0.0.1", 7860)

The event handlers (:class:`ChatHandlers`) are plain Python and tested without a browser; the page
itself is tested in headless Chromium.

Everything that comes from a document or a user is escaped before it reaches the page, so HTML or
``<script>`` inside a document or a question is shown as text, never rendered or run.
"""
from __future__ import annotations

import html
import logging
import time
from pathlib import Path
from typing import Any, Iterator

from .documents import SUPPORTED_SUFFIXES
from .engine import Engine
from .errors import AmqaError, MissingDependencyError
from .settings import MAX_K
from .text import MARKDOWN_SUFFIXES, readable
from .types import Answer, Citation, Verification
from .uploads import MAX_UPLOAD_BYTES, add_file

log = logging.getLogger("amqa.ui")

EXAMPLES = [
    "Combien d'apprentis sont formés à Arts et Métiers ?",
    "Where will the Moroccan campus of Arts et Métiers open?",
    "Quand l'ENSMM et Arts et Métiers ont-ils signé leur convention ?",
    "How much funding accompanies the Cnam branch in Montbéliard?",
]
STREAM_WORDS = 6        # words added per streamed update
STREAM_PAUSE = 0.012    # seconds between updates: enough to see the answer arrive, not to wait for it
CSS = """
#amqa-sources .amqa-source { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 12px; margin: 8px 0; }
#amqa-sources .amqa-file { font-weight: 600; font-family: monospace; }
#amqa-sources mark { background: #fff3a3; padding: 0 2px; }
#amqa-sources details > div { white-space: pre-wrap; margin-top: 6px; color: #333; }
#amqa-passages table { font-size: 0.9em; }
"""


def _gradio():
    try:
        import gradio as gr
    except ImportError as exc:
        raise MissingDependencyError("the web UI needs Gradio: pip install -e '.[ui]'") from exc
    return gr


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def chat_text(text: str) -> str:
    """A chat message shown as plain text. The chat renders Markdown, so every Markdown and HTML
    special character is backslash-escaped: ``<script>`` shows as text and is never parsed as a tag."""
    return "".join("\\" + ch if ch in _MD_SPECIALS else ch for ch in text)


_MD_SPECIALS = set("\\`*_{}[]()#+-.!|~<>&\"'")
# Marks travel through chat_text as two private-use characters, which it leaves alone, then become **.
_MARK = ("\ue000", "\ue001")


def bold_marks(escaped: str) -> str:
    """Turn the mark characters of an escaped chat text into Markdown bold (a mark cut by streaming
    is closed at the end)."""
    if escaped.count(_MARK[0]) > escaped.count(_MARK[1]):
        escaped += _MARK[1]
    return escaped.replace(_MARK[0], "**").replace(_MARK[1], "**")


def sources_html(answer: Answer | None, turn: int, message: str = "") -> str:
    """The sources panel: each cited file, its quoted sentence highlighted inside the chunk, and the
    whole chunk one click away. ``data-turn`` tells a watcher that the answer is complete."""
    parts = [f'<div class="amqa-panel" data-turn="{turn}">']
    if message:
        parts.append(f"<p>{esc(message)}</p>")
    elif answer is None:
        parts.append("<p>Sources of the answer appear here.</p>")
    elif answer.abstained:
        parts.append(f"<p><em>{esc(answer.text)}</em></p>")
    else:
        chunks = {h.chunk.id: h.chunk for h in answer.hits}
        for c in answer.citations:
            chunk = chunks.get(c.chunk_id)
            if chunk is not None and chunk.start <= c.start and c.end <= chunk.end:
                shown = readable(chunk.text, markdown=chunk.source.lower().endswith(MARKDOWN_SUFFIXES))
                a, b = shown.span(c.start - chunk.start, c.end - chunk.start)
                passage = shown.text
                body = f"{esc(passage[:a])}<mark>{esc(passage[a:b])}</mark>{esc(passage[b:])}"
            else:
                body = f"<mark>{esc(c.quote)}</mark>"
            where = f'<span class="amqa-page">{esc(c.location)}</span> · ' if c.location else ""
            parts.append(
                f'<div class="amqa-source" data-source="{esc(c.source)}" data-page="{c.page or ""}">'
                f'<div>[{c.n}] <span class="amqa-file">{esc(c.source)}</span> '
                f"<small>{where}characters {c.start}–{c.end}</small></div>"
                f"<blockquote>{marked_html(c)}</blockquote>"
                f"<details><summary>Show the whole passage</summary><div>{body}</div></details></div>"
            )
    parts.append("</div>")
    return "".join(parts)


def marked_html(c: Citation) -> str:
    """A quote, escaped, with its marked words in <strong>."""
    return esc(c.marked_text(*_MARK)).replace(_MARK[0], "<strong>").replace(_MARK[1], "</strong>")


def passages_html(answer: Answer | None) -> str:
    if answer is None or not answer.hits:
        return ""
    rows = "".join(
        f"<tr><td>{h.rank}</td><td>{esc(h.chunk.source)}</td><td>{h.score:.4f}</td>"
        f"<td>{h.dense_rank or '–'}</td><td>{h.bm25_rank or '–'}</td><td>{esc(readable(h.chunk.text).text[:160])}…</td></tr>"
        for h in answer.hits
    )
    return ("<table><thead><tr><th>#</th><th>file</th><th>fused</th><th>dense rank</th><th>BM25 rank</th>"
            f"<th>passage</th></tr></thead><tbody>{rows}</tbody></table>")


def documents_table(engine: Engine) -> tuple[list[list], str]:
    manifest = engine.manifest
    rows = [[source, info.get("language", ""), info.get("chunks", 0), info.get("title", "")]
            for source, info in manifest["files"].items()]
    skipped = manifest.get("skipped_files", [])
    note = f"**{len(rows)} files indexed** in {chat_text(str(engine.store))} · index built {manifest.get('updated', '?')}"
    if skipped:
        # Markdown: backslash escapes (entities would show literally, and code spans keep backslashes)
        note += " · skipped: " + ", ".join(f"{chat_text(s['source'])} ({chat_text(s['reason'])})" for s in skipped)
    return rows, note


# What a chat handler returns each step: chat history, sources panel, passages table, turn, status line.
Update = tuple[list, str, str, int, str]


class ChatHandlers:
    """The page's event handlers over one engine: plain Python, so they are tested without a browser."""

    def __init__(self, engine: Engine, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.engine = engine
        self.max_upload_bytes = max_upload_bytes
        self.writers = ["extractive"] + ([engine.generator.id] if engine.generator is not None else [])

    def respond(self, message: str, history: list | None, k_value: float, show_passages: bool, writer: str,
                turn: int) -> Iterator[Update]:
        """Answer ``message``: the question appears at once, the answer streams in, then its sources."""
        history = list(history or [])
        turn = int(turn or 0) + 1
        question = (message or "").strip()
        if not question:
            yield history, sources_html(None, turn, "Type a question first."), "", turn, ""
            return
        history.append({"role": "user", "content": chat_text(question)})
        history.append({"role": "assistant", "content": "…"})
        yield history, sources_html(None, turn - 1), "", turn - 1, ""
        answer, draft = None, ""
        try:
            for item in self.engine.answer_stream(question, k=int(k_value), generator=self._writer(writer)):
                if isinstance(item, Answer):
                    answer = item
                else:  # an LLM's reply as it arrives; verified before the final text replaces it
                    draft += item
                    history[-1] = {"role": "assistant", "content": chat_text(draft) + " ▌"}
                    yield history, sources_html(None, turn - 1), "", turn - 1, "writing…"
        except Exception as exc:  # the server keeps serving; the user gets a message, not a trace
            yield self._failure(history, turn, exc)
            return
        assert answer is not None
        yield from self._reveal(history, turn, answer, streamed=bool(draft), show_passages=show_passages)

    def _writer(self, name: str) -> Any:
        generator = self.engine.generator
        return generator if generator is not None and name == generator.id else "extractive"

    def _failure(self, history: list, turn: int, exc: Exception) -> Update:
        if isinstance(exc, AmqaError):
            msg, shown = str(exc), f"⚠️ {exc}"
        else:
            log.exception("answer failed")
            msg = shown = f"Sorry, this question could not be answered ({type(exc).__name__}). Please try again."
        history[-1] = {"role": "assistant", "content": chat_text(shown)}
        return history, sources_html(None, turn, msg), "", turn, ""

    def _reveal(self, history: list, turn: int, answer: Answer, *, streamed: bool,
                show_passages: bool) -> Iterator[Update]:
        """The final text (the extractive one arrives in a few steps), then the sources and status."""
        text = answer.marked_text(*_MARK)
        if answer.verification is Verification.FALLBACK:
            text = f"⚠️ The LLM answer was not shown ({answer.verification_reason}). Extractive answer:\n\n{text}"
        if not streamed:
            words = text.split(" ")
            for i in range(STREAM_WORDS, len(words), STREAM_WORDS):
                history[-1] = {"role": "assistant", "content": bold_marks(chat_text(" ".join(words[:i]))) + " ▌"}
                yield history, sources_html(None, turn - 1), "", turn - 1, ""
                time.sleep(STREAM_PAUSE)
        history[-1] = {"role": "assistant", "content": bold_marks(chat_text(text))}
        status = (f"{answer.timings.get('total', 0) * 1000:.0f} ms · {answer.generator} · "
                  f"{answer.verification.value}")
        yield history, sources_html(answer, turn), passages_html(answer) if show_passages else "", turn, status

    def upload(self, files: list[tuple[str, str]] | None) -> tuple[str, list[list], str, None]:
        """Copy uploads into the documents folder (safe names only) and index them."""
        added, refused = [], []
        for path, name in files or []:
            try:
                data = Path(path).read_bytes()
                added.append(add_file(self.engine.docs, data, name, self.max_upload_bytes).name)
            except AmqaError as exc:
                refused.append(str(exc))
            except OSError as exc:
                refused.append(f"refused '{name}': could not be read ({exc.strerror or exc})")
        lines = []
        if added:
            try:
                report = self.engine.index()
                lines.append(f"✅ Indexed {', '.join(added)} ({report.summary()})")
            except AmqaError as exc:
                lines.append(f"⚠️ {exc}")
        lines += [f"❌ {r}" for r in refused]
        rows, note = documents_table(self.engine)
        return chat_text("\n".join(lines) or "No file received."), rows, note, None


def build_app(engine: Engine | None = None, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> Any:
    """The Gradio Blocks app over ``engine`` (default: ``Engine()``, from the environment's settings).
    The index is loaded (or built) here, once, so the first answer is as fast as the next ones."""
    gr = _gradio()
    engine = engine or Engine(progress=True)
    engine.warm_up()
    handlers = ChatHandlers(engine, max_upload_bytes)
    with gr.Blocks(title="amqa: questions about your documents") as app:
        gr.Markdown("# amqa\nAsk about the documents in French or English. Every answer quotes its "
                    "sources, with [n] markers pointing at the files below the chat.")
        turn = gr.State(0)
        with gr.Tab("Chat"):
            chat = _chat_tab(gr, engine, handlers.writers)
        with gr.Tab("Documents"):
            docs = _documents_tab(gr, engine, max_upload_bytes)
        ask = dict(fn=handlers.respond, inputs=[chat["box"], chat["chatbot"], chat["k"], chat["show"], chat["writer"], turn],
                   outputs=[chat["chatbot"], chat["sources"], chat["passages"], turn, chat["status"]],
                   concurrency_limit=4)
        chat["box"].submit(**ask).then(lambda: "", None, chat["box"])
        chat["send"].click(**ask).then(lambda: "", None, chat["box"])
        docs["uploader"].upload(handlers.upload, docs["uploader"],
                                [docs["result"], docs["table"], docs["info"], docs["uploader"]], concurrency_limit=1)
    app.queue(default_concurrency_limit=4, max_size=64)
    return app


def _chat_tab(gr: Any, engine: Engine, writers: list[str]) -> dict[str, Any]:
    """The chat, question box, examples, sources panel and settings; returns the components by name."""
    c: dict[str, Any] = {}
    c["chatbot"] = gr.Chatbot(label="Chat", height=420, elem_id="amqa-chat", sanitize_html=True, allow_tags=False)
    with gr.Row():
        c["box"] = gr.Textbox(placeholder="Posez une question… / Ask a question…", show_label=False,
                              elem_id="amqa-question", scale=8, autofocus=True)
        c["send"] = gr.Button("Ask", variant="primary", scale=1, elem_id="amqa-send")
    c["status"] = gr.Markdown("", elem_id="amqa-status")
    gr.Examples(EXAMPLES, inputs=c["box"])
    gr.Markdown("### Sources")
    c["sources"] = gr.HTML(sources_html(None, 0), elem_id="amqa-sources")
    with gr.Accordion("Settings", open=False):
        c["k"] = gr.Slider(1, MAX_K, value=engine.k, step=1, label="Passages to retrieve (k)")
        c["writer"] = gr.Dropdown(writers, value=writers[-1], label="Answer writer", elem_id="amqa-writer",
                                  info="extractive quotes the documents; an LLM answer is checked against them")
        c["show"] = gr.Checkbox(False, label="Show the retrieved passages with their scores")
        c["passages"] = gr.HTML("", elem_id="amqa-passages")
    return c


def _documents_tab(gr: Any, engine: Engine, max_upload_bytes: int) -> dict[str, Any]:
    """The indexed files, skipped files and the upload box; returns the components by name."""
    rows, note = documents_table(engine)
    return {
        "info": gr.Markdown(note, elem_id="amqa-docs-info"),
        "table": gr.Dataframe(rows, headers=["file", "language", "chunks", "title"], interactive=False,
                              elem_id="amqa-docs-table"),
        "uploader": DocumentUpload(label=f"Add documents ({', '.join(SUPPORTED_SUFFIXES)}; "
                                         f"up to {max_upload_bytes // 1_000_000} MB each)",
                                   file_count="multiple", elem_id="amqa-upload"),
        "result": gr.Markdown("", elem_id="amqa-upload-result"),
    }


def DocumentUpload(**kwargs):  # noqa: N802 (a component constructor)
    """A gr.File whose handler receives ``(cached path, original name)`` pairs: gr.File hands over only
    the cached path, and the original name is needed to refuse an unsafe one rather than rename it.
    The override is per instance: a gr.File subclass would make Gradio write a .pyi beside this module."""
    gr = _gradio()
    component = gr.File(**kwargs)

    def preprocess(payload):
        if payload is None:
            return []
        files = [payload] if hasattr(payload, "path") else list(payload)
        return [(f.path, f.orig_name or Path(f.path).name) for f in files]

    component.preprocess = preprocess
    return component


def serve(app: Any, host: str = "127.0.0.1", port: int = 7860, share: bool = False, block: bool = True) -> Any:
    """Launch ``app`` on ``host:port`` with amqa's style and upload limit. Binds loopback unless told
    otherwise; a public share link only with ``share=True``."""
    return app.launch(server_name=host, server_port=port, share=share, css=CSS, max_file_size=MAX_UPLOAD_BYTES,
                      show_error=False, prevent_thread_lock=not block, quiet=not block)
