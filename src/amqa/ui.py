"""The Gradio chat UI: a thin layer over :class:`amqa.Engine`.

    python app.py                    # or: amqa serve
    python app.py --port 8000 --docs ~/my-docs

In Python::

    from amqa.ui import build_app
    build_app().launch(server_name="127.0.0.1", server_port=7860)

Everything that comes from a document or a user is escaped before it reaches the page, so HTML or
``<script>`` inside a document or a question is shown as text, never rendered or run.
"""
from __future__ import annotations

import argparse
import html
import logging
import os
import sys
import time
from pathlib import Path

from .config import DEFAULT_K, MAX_K
from .documents import MAX_UPLOAD_BYTES, SUPPORTED_SUFFIXES, add_file
from .engine import Engine
from .errors import AmqaError, MissingDependencyError
from .types import Answer

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
                a, b = c.start - chunk.start, c.end - chunk.start
                body = f"{esc(chunk.text[:a])}<mark>{esc(chunk.text[a:b])}</mark>{esc(chunk.text[b:])}"
            else:
                body = f"<mark>{esc(c.text)}</mark>"
            parts.append(
                f'<div class="amqa-source" data-source="{esc(c.source)}">'
                f'<div>[{c.n}] <span class="amqa-file">{esc(c.source)}</span> '
                f"<small>characters {c.start}–{c.end}</small></div>"
                f"<blockquote>{esc(c.text)}</blockquote>"
                f"<details><summary>Show the whole passage</summary><div>{body}</div></details></div>"
            )
    parts.append("</div>")
    return "".join(parts)


def passages_html(answer: Answer | None) -> str:
    if answer is None or not answer.hits:
        return ""
    rows = "".join(
        f"<tr><td>{h.rank}</td><td>{esc(h.chunk.source)}</td><td>{h.score:.4f}</td>"
        f"<td>{h.dense_rank or '–'}</td><td>{h.bm25_rank or '–'}</td><td>{esc(h.chunk.text[:160])}…</td></tr>"
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


def build_app(engine: Engine | None = None, *, docs: str | os.PathLike | None = None,
              store: str | os.PathLike | None = None, k: int = DEFAULT_K,
              max_upload_bytes: int = MAX_UPLOAD_BYTES):
    """The Gradio Blocks app. The index is loaded (or built) here, once, so the first answer is as
    fast as the next ones."""
    gr = _gradio()
    engine = engine or Engine(docs, store, k=k, progress=True)
    engine.warm_up()

    writers = ["extractive"] + ([engine.generator.id] if engine.generator is not None else [])

    def respond(message: str, history: list, k_value: float, show_passages: bool, writer: str, turn: int):
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
            chosen = engine.generator if engine.generator is not None and writer == engine.generator.id else "extractive"
            for item in engine.answer_stream(question, k=int(k_value), generator=chosen):
                if isinstance(item, Answer):
                    answer = item
                else:  # an LLM's reply as it arrives; verified before the final text replaces it
                    draft += item
                    history[-1] = {"role": "assistant", "content": chat_text(draft) + " ▌"}
                    yield history, sources_html(None, turn - 1), "", turn - 1, "writing…"
        except AmqaError as exc:
            history[-1] = {"role": "assistant", "content": chat_text(f"⚠️ {exc}")}
            yield history, sources_html(None, turn, str(exc)), "", turn, ""
            return
        except Exception as exc:  # the server keeps serving; the user gets a message, not a trace
            log.exception("answer failed")
            msg = f"Sorry, this question could not be answered ({type(exc).__name__}). Please try again."
            history[-1] = {"role": "assistant", "content": chat_text(msg)}
            yield history, sources_html(None, turn, msg), "", turn, ""
            return
        text = answer.text
        if answer.verification.startswith("fallback"):
            text = (f"⚠️ The LLM answer was not shown ({answer.verification[len('fallback: '):]}). "
                    f"Extractive answer:\n\n{text}")
        if not draft:  # the extractive writer: let the text arrive in a few steps
            words = text.split(" ")
            for i in range(STREAM_WORDS, len(words), STREAM_WORDS):
                history[-1] = {"role": "assistant", "content": chat_text(" ".join(words[:i])) + " ▌"}
                yield history, sources_html(None, turn - 1), "", turn - 1, ""
                time.sleep(STREAM_PAUSE)
        history[-1] = {"role": "assistant", "content": chat_text(text)}
        status = f"{answer.timings.get('total', 0) * 1000:.0f} ms · {answer.generator} · {answer.verification}"
        yield (history, sources_html(answer, turn), passages_html(answer) if show_passages else "", turn, status)

    def upload(files: list[tuple[str, str]] | None):
        files = files or []
        added, refused = [], []
        for path, name in files:
            try:
                data = Path(path).read_bytes()
                added.append(add_file(engine.docs, data, name, max_upload_bytes).name)
            except AmqaError as exc:
                refused.append(str(exc))
            except OSError as exc:
                refused.append(f"refused '{name}': could not be read ({exc.strerror or exc})")
        lines = []
        if added:
            try:
                report = engine.index()
                lines.append(f"✅ Indexed {', '.join(added)} ({report.summary()})")
            except AmqaError as exc:
                lines.append(f"⚠️ {exc}")
        lines += [f"❌ {r}" for r in refused]
        rows, note = documents_table(engine)
        return chat_text("\n".join(lines) or "No file received."), rows, note, None

    with gr.Blocks(title="amqa: questions about your documents") as app:
        gr.Markdown("# amqa\nAsk about the documents in French or English. Every answer quotes its "
                    "sources, with [n] markers pointing at the files below the chat.")
        turn = gr.State(0)
        with gr.Tab("Chat"):
            chatbot = gr.Chatbot(label="Chat", height=420, elem_id="amqa-chat", sanitize_html=True,
                                 allow_tags=False)
            with gr.Row():
                box = gr.Textbox(placeholder="Posez une question… / Ask a question…", show_label=False,
                                 elem_id="amqa-question", scale=8, autofocus=True)
                send = gr.Button("Ask", variant="primary", scale=1, elem_id="amqa-send")
            status = gr.Markdown("", elem_id="amqa-status")
            gr.Examples(EXAMPLES, inputs=box)
            gr.Markdown("### Sources")
            sources = gr.HTML(sources_html(None, 0), elem_id="amqa-sources")
            with gr.Accordion("Settings", open=False):
                k_slider = gr.Slider(1, MAX_K, value=engine.k, step=1, label="Passages to retrieve (k)")
                writer = gr.Dropdown(writers, value=writers[-1], label="Answer writer", elem_id="amqa-writer",
                                     info="extractive quotes the documents; an LLM answer is checked against them")
                show = gr.Checkbox(False, label="Show the retrieved passages with their scores")
                passages = gr.HTML("", elem_id="amqa-passages")
        with gr.Tab("Documents"):
            rows, note = documents_table(engine)
            info = gr.Markdown(note, elem_id="amqa-docs-info")
            table = gr.Dataframe(rows, headers=["file", "language", "chunks", "title"], interactive=False,
                                 elem_id="amqa-docs-table")
            uploader = DocumentUpload(label=f"Add documents ({', '.join(SUPPORTED_SUFFIXES)}; "
                                            f"up to {max_upload_bytes // 1_000_000} MB each)",
                                      file_count="multiple", elem_id="amqa-upload")
            upload_msg = gr.Markdown("", elem_id="amqa-upload-result")

        ask_args = dict(fn=respond, inputs=[box, chatbot, k_slider, show, writer, turn],
                        outputs=[chatbot, sources, passages, turn, status], concurrency_limit=4)
        box.submit(**ask_args).then(lambda: "", None, box)
        send.click(**ask_args).then(lambda: "", None, box)
        uploader.upload(upload, uploader, [upload_msg, table, info, uploader], concurrency_limit=1)
    app.queue(default_concurrency_limit=4, max_size=64)
    return app


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


def serve(app, host: str = "127.0.0.1", port: int = 7860, share: bool = False, block: bool = True):
    """Launch ``app`` on ``host:port`` with amqa's style and upload limit. Binds loopback unless told
    otherwise; a public share link only with ``share=True``."""
    return app.launch(server_name=host, server_port=port, share=share, css=CSS, max_file_size=MAX_UPLOAD_BYTES,
                      show_error=False, prevent_thread_lock=not block, quiet=not block)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amqa serve", description="Start the amqa chat web UI.")
    parser.add_argument("--host", default=os.environ.get("AMQA_HOST", "127.0.0.1"),
                        help="address to bind (default 127.0.0.1, or $AMQA_HOST)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("AMQA_PORT", "7860")),
                        help="port (default 7860, or $AMQA_PORT)")
    parser.add_argument("--docs", metavar="DIR", help="documents folder (default: $AMQA_DOCS, else seeds/)")
    parser.add_argument("--store", metavar="DIR", help="index folder (default: $AMQA_STORE, else vector_store/)")
    parser.add_argument("-k", type=int, default=int(os.environ.get("AMQA_K", DEFAULT_K)),
                        help=f"passages to retrieve (default {DEFAULT_K}, or $AMQA_K)")
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    from .cli import _llm, generator_from_args

    _llm(parser)
    args = parser.parse_args(argv)
    try:
        engine = Engine(args.docs, args.store, k=args.k, progress=True, generator=generator_from_args(args))
        app = build_app(engine)
    except AmqaError as exc:
        print(f"amqa: error: {exc}", file=sys.stderr)
        return 1
    print(f"amqa: serving on http://{args.host}:{args.port}", file=sys.stderr)
    serve(app, args.host, args.port, share=args.share)
    return 0
