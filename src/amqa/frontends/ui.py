"""The Gradio chat UI: a thin layer over :class:`amqa.Engine`.

    python app.py                    # or: amqa serve (the CLI parses the flags)
    python app.py --port 8000 --docs ~/my-docs

In Python::

    from amqa.frontends.ui import build_app, serve
    serve(build_app(), "127.0.0.1", 7860)

The chat holds conversations: each question goes to the engine with the conversation so far
(``history=``), each answer keeps its own sources under it (``[n]`` links to them), a question sent
while an answer is being written waits its turn, and the conversations are kept in the browser's
storage (a Gradio ``BrowserState`` encrypted with the key in ``<home>/ui-secret``, see
:func:`_browser_secret`; :mod:`amqa.frontends.transcript` turns them into JSON and back), so a reload keeps them. The Documents tab lists, adds, deletes and
re-indexes documents; the engine catches up with the folders before every answer. The page follows the
browser's language, French or English (:data:`TEXTS`).

The event handlers (:class:`ChatHandlers`) are plain Python returning small views (:class:`ChatView`,
:class:`DocsView`) and are tested without a browser; the page itself is tested in headless Chromium.

Everything that comes from a document, a user or the browser's storage is escaped before it reaches
the page, so HTML or ``<script>`` inside a document or a question is shown as text, never rendered or run.
"""
from __future__ import annotations

import dataclasses
import functools
import html
import itertools
import logging
import math
import queue
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from amqa.errors import AmqaError, InvalidInputError, MissingDependencyError
from amqa.frontends.transcript import (ERROR, MARK, MAX_CONVERSATIONS, STOPPED, Conversation, SourceRef, Turn,
                                       dump_conversations, load_conversations)
from amqa.ingest.documents import SUPPORTED_SUFFIXES
from amqa.ingest.uploads import MAX_UPLOAD_BYTES
from amqa.service.engine import Engine
from amqa.settings import MAX_K, MAX_QUESTION_CHARS, bundled_seeds, check_fields
from amqa.text import readable
from amqa.types import Answer, Outcome, Verification, WriterKind

log = logging.getLogger("amqa.frontends.ui")

EXAMPLES = [
    "Combien d'apprentis sont formés à Arts et Métiers ?",
    "Where will the Moroccan campus of Arts et Métiers open?",
    "Quand l'ENSMM et Arts et Métiers ont-ils signé leur convention ?",
    "How much funding accompanies the Cnam branch in Montbéliard?",
]
# The extractive answer arrives whole and is shown in a few steps, enough to see it arrive, not to wait
# for it: every step re-renders the conversation in the browser. At most 4 steps of at least 6 words,
# 12 ms apart. Enter to complete answer, p50 over 10 questions in one conversation on 2 shared cores:
# no steps 0.35-0.39 s, a step per 6 words 0.70-0.92 s, 4 steps 0.40-0.51 s.
STREAM_WORDS = 6
STREAM_STEPS = 4
STREAM_PAUSE = 0.012


@dataclass(frozen=True)
class UILimits:
    """What one session, one request and one page of the web UI may hold (``build_app(limits=...)``).
    Every input is bounded where it enters: a question, the questions waiting, a conversation, an
    upload, the Documents table."""

    #: Questions waiting for their answer in one tab. Asking bypasses Gradio's queue (the question shows
    #: at once), so this is the only bound: 4 clients queued 500 each and held every answer slot, a
    #: fifth user waited 292 s (issue 22, case 7; bench/ui_flood.py: 928 s before, p50 0.55 s with this
    #: and the slot given up after each answer). A person types a few questions ahead, not more.
    waiting: int = 4
    #: A question is cut to what the engine reads (:data:`amqa.settings.MAX_QUESTION_CHARS`): a 20 MB
    #: question kept whole made that session's next replies 40-160 MB (issue 22, case 8).
    question_chars: int = MAX_QUESTION_CHARS
    #: Turns kept in one conversation of a session (the oldest dropped first): every reply sends the
    #: whole shown conversation; a turn with its sources is 3-5 KB (amqa.frontends.transcript), so 200 turns are
    #: at most 1 MB a reply.
    turns: int = 200
    #: Conversations kept in a session: as many as the browser stores (amqa.frontends.transcript.MAX_CONVERSATIONS).
    conversations: int = MAX_CONVERSATIONS
    #: Size of one uploaded file, checked by Gradio as it arrives (``launch(max_file_size=...)``).
    upload_bytes: int = MAX_UPLOAD_BYTES
    #: Files in one upload: one request carried 1,000 x 10 MB (issue 22, case 10). The server refuses a
    #: request over ``upload_files * upload_bytes`` before reading it; the handler refuses the rest.
    upload_files: int = 20
    #: What an upload request holds besides its files' bytes (boundaries and part headers: about 200
    #: bytes a file), allowed above ``upload_files * upload_bytes``.
    upload_overhead: int = 1_000_000
    #: Gradio's cache (uploads, files it serves) is emptied of files older than ``cache_age`` seconds
    #: every ``cache_every`` seconds: 30 x 1 MB uploads were still on disk 23 min later (case 10). Each
    #: upload is removed as soon as it is handled; this catches uploads no handler ever saw.
    cache_every: int = 300
    cache_age: int = 900
    #: Rows of the Documents table sent to the page (the rest found with its filter box): 100k files
    #: sent 11.7 MB and cost 6.7 s of server CPU a visit, 200 rows 24 kB (case 15; bench/docs_tab.py).
    docs_rows: int = 200
    #: Files named in the Documents tab's note among those the index skipped (the rest counted): a
    #: scan of ``/`` skipped 194,824 (tests/test_adversarial.py, case 4).
    skipped_shown: int = 20

    def __post_init__(self) -> None:
        check_fields(self, ("waiting", "question_chars", "turns", "conversations", "upload_bytes", "upload_files",
                            "upload_overhead", "cache_every", "cache_age", "docs_rows", "skipped_shown"), integer=True)


#: Every piece of text of the page, in English and French. Labels go to Gradio's ``gr.I18n`` (the
#: browser translates them); the handlers' messages are picked by the browser's language (``lang``).
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "intro": "# amqa\nAsk about the documents in French or English. Every answer quotes its sources: "
                 "click a [n] marker, or the sources under the answer, to read them.",
        "chat": "Chat", "documents": "Documents", "placeholder": "Ask a question… (Enter to send)",
        "send": "Send", "stop": "Stop", "clear": "Clear", "new": "New conversation",
        "conversations": "Conversations", "examples": "Examples (click to ask)", "settings": "Settings",
        "k": "Passages to retrieve (k)", "writer": "Answer writer",
        "writer_info": "extractive quotes the documents; an LLM answer is checked against them",
        "show": "Show the retrieved passages with their scores", "delete_pick": "Document to delete",
        "delete": "Delete…", "confirm": "Yes, delete it", "cancel": "Cancel", "reindex": "Re-index now",
        "upload": "Add documents ({formats}; up to {mb} MB each)",
        # handler messages
        "empty": "Type a question first.", "waiting": "{n} question(s) waiting", "writing": "writing…",
        "full": "{n} questions are already waiting: wait for their answers (or press Stop) before asking more. "
                "Your question is back in the box.",
        "cut": "Your question was cut to its first {limit:,} characters (it had {length:,}): amqa reads no more.",
        "answered": "{ms} ms · {writer} · {verification}", "stopped": "⏹ Stopped.",
        "stopped_status": "Stopped.", "not_answered": "This question could not be answered ({error}). Please try again.",
        "llm_not_shown": "⚠️ The LLM answer was not shown ({reason}). Extractive answer:",
        "sources": "Sources", "whole": "Show the whole passage", "searched": "Searched:",
        "hello": "Ask a question to start.", "cleared": "Conversation cleared.",
        "files": "**{n} files indexed** · index updated {updated}",
        "skipped": "skipped: {files}", "library": "New documents go to {folder}.",
        "matching": "{n} with '{query}'", "first_rows": "the first {n} shown: type in the filter box to find others",
        "more": "and {n} more", "filter": "Filter by title or file name",
        "too_many": "refused {n} files: at most {limit} in one upload; add them in several",
        "folder_seeds": "bundled", "folder_library": "library", "folder_docs": "documents",
        "col_title": "title", "col_file": "file", "col_folder": "folder", "col_language": "language",
        "col_pages": "pages", "col_chunks": "chunks",
        "indexed": "✅ Indexed {files} ({summary})", "no_file": "No file received.",
        "not_indexed": "not indexed '{source}': {reason}; the file was not kept",
        "confirm_text": "Delete **{source}** from {folder}? The file is removed from the disk.",
        "deleted": "🗑️ Deleted {source} ({summary})", "pick_first": "Pick a document to delete first.",
        "reindexed": "🔄 {summary}", "reading": "Reading files", "embedding": "Embedding passages",
        "summary": "{added} added, {changed} changed, {removed} removed, {unchanged} unchanged, {seconds:.1f} s",
    },
    "fr": {
        "intro": "# amqa\nPosez vos questions sur les documents, en français ou en anglais. Chaque réponse cite "
                 "ses sources : cliquez sur un repère [n], ou sur les sources sous la réponse, pour les lire.",
        "chat": "Discussion", "documents": "Documents", "placeholder": "Posez une question… (Entrée pour envoyer)",
        "send": "Envoyer", "stop": "Arrêter", "clear": "Effacer", "new": "Nouvelle conversation",
        "conversations": "Conversations", "examples": "Exemples (cliquez pour demander)", "settings": "Réglages",
        "k": "Passages à rechercher (k)", "writer": "Rédaction de la réponse",
        "writer_info": "extractive cite les documents ; une réponse de LLM est vérifiée contre eux",
        "show": "Afficher les passages trouvés et leurs scores", "delete_pick": "Document à supprimer",
        "delete": "Supprimer…", "confirm": "Oui, le supprimer", "cancel": "Annuler", "reindex": "Réindexer",
        "upload": "Ajouter des documents ({formats} ; {mb} Mo au plus chacun)",
        "empty": "Écrivez d'abord une question.", "waiting": "{n} question(s) en attente", "writing": "rédaction…",
        "full": "{n} questions attendent déjà : attendez leurs réponses (ou appuyez sur Arrêter) avant d'en poser "
                "d'autres. Votre question est revenue dans la zone de saisie.",
        "cut": "Votre question a été coupée à ses {limit:,} premiers caractères (elle en avait {length:,}) : "
               "amqa n'en lit pas plus.",
        "answered": "{ms} ms · {writer} · {verification}", "stopped": "⏹ Arrêté.",
        "stopped_status": "Arrêté.", "not_answered": "Cette question n'a pas pu recevoir de réponse ({error}). "
                                                     "Veuillez réessayer.",
        "llm_not_shown": "⚠️ La réponse du LLM n'a pas été montrée ({reason}). Réponse extractive :",
        "sources": "Sources", "whole": "Afficher le passage entier", "searched": "Recherché :",
        "hello": "Posez une question pour commencer.", "cleared": "Conversation effacée.",
        "files": "**{n} fichiers indexés** · index mis à jour le {updated}",
        "skipped": "ignorés : {files}", "library": "Les nouveaux documents vont dans {folder}.",
        "matching": "{n} avec « {query} »", "first_rows": "les {n} premiers affichés : tapez dans le filtre pour "
                                                           "trouver les autres",
        "more": "et {n} autres", "filter": "Filtrer par titre ou nom de fichier",
        "too_many": "refusé {n} fichiers : {limit} au plus par envoi ; ajoutez-les en plusieurs fois",
        "folder_seeds": "fournis", "folder_library": "bibliothèque", "folder_docs": "documents",
        "col_title": "titre", "col_file": "fichier", "col_folder": "dossier", "col_language": "langue",
        "col_pages": "pages", "col_chunks": "passages",
        "indexed": "✅ Indexé : {files} ({summary})", "no_file": "Aucun fichier reçu.",
        "not_indexed": "non indexé « {source} » : {reason} ; le fichier n'a pas été gardé",
        "confirm_text": "Supprimer **{source}** de {folder} ? Le fichier est effacé du disque.",
        "deleted": "🗑️ Supprimé : {source} ({summary})", "pick_first": "Choisissez d'abord un document à supprimer.",
        "reindexed": "🔄 {summary}", "reading": "Lecture des fichiers", "embedding": "Calcul des vecteurs",
        "summary": "{added} ajoutés, {changed} modifiés, {removed} retirés, {unchanged} inchangés, {seconds:.1f} s",
    },
}
#: Labels translated in the browser by Gradio (the rest are the handlers' messages).
LABELS = ("intro", "chat", "documents", "placeholder", "send", "stop", "clear", "new", "conversations", "examples",
          "settings", "k", "writer", "writer_info", "show", "delete_pick", "delete", "confirm", "cancel", "reindex",
          "upload", "filter")

# Runs in the browser. On Enter or Send: empty the box at once, before the question reaches the server
# (emptying it when the server answered erased what the user had typed meanwhile), and pass the text on.
CLEAR_BOX_JS = """(question, ...rest) => {
  const box = document.querySelector('#amqa-question textarea');
  if (box) { box.value = ''; box.dispatchEvent(new Event('input', {bubbles: true})); }
  return [question, ...rest];
}"""
# On page load: a click on an [n] marker opens the answer's sources and shows the one it names.
PAGE_JS = """() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest ? event.target.closest('a.amqa-ref') : null;
    if (!link) return;
    const target = document.getElementById((link.getAttribute('href') || '').slice(1));
    if (!target) return;
    event.preventDefault();
    for (let d = target.closest('details'); d; d = d.parentElement ? d.parentElement.closest('details') : null) {
      d.open = true;
    }
    target.scrollIntoView({block: 'center'});
    target.classList.add('amqa-flash');
    setTimeout(() => target.classList.remove('amqa-flash'), 1600);
  }, true);
}"""
CSS = """
#amqa-chat .amqa-sources { margin-top: 10px; border-top: 1px solid #d0d7de; padding-top: 6px; }
#amqa-chat .amqa-sources > summary { cursor: pointer; font-weight: 600; }
#amqa-chat .amqa-source { border: 1px solid #d0d7de; border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
#amqa-chat .amqa-source.amqa-flash { outline: 3px solid #f5c518; }
#amqa-chat .amqa-title { font-weight: 600; }
#amqa-chat .amqa-file { font-family: monospace; font-size: 0.9em; }
#amqa-chat .amqa-source blockquote { margin: 4px 0; }
#amqa-chat .amqa-source mark { background: #fff3a3; padding: 0 2px; }
#amqa-chat a.amqa-ref { text-decoration: none; font-weight: 600; }
#amqa-chat .amqa-searched { color: #57606a; }
#amqa-passages table { font-size: 0.9em; }
"""


def _gradio():
    try:
        import gradio as gr
    except ImportError as exc:
        raise MissingDependencyError("the web UI needs Gradio: pip install -e '.[ui]'") from exc
    return gr


def lang_of(code: str | None) -> str:
    """``fr`` for a French browser (``fr``, ``fr-FR``, ``fr-CA``...), else ``en``.

    >>> lang_of("fr-CA"), lang_of("de-DE"), lang_of(None)
    ('fr', 'en', 'en')
    """
    return "fr" if (code or "").strip().lower().startswith("fr") else "en"


def tr(lang: str, key: str, **values: Any) -> str:
    """The text ``key`` in the browser's language, with ``values`` filled in."""
    text = TEXTS[lang_of(lang)][key]
    return text.format(**values) if values else text


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def esc_lines(text: str) -> str:
    """Escaped, on one line (``<br>`` for line breaks): a blank line would end the HTML block it is in
    and let Markdown read the rest."""
    return esc(text).replace("\r", "").replace("\n", "<br>")


def chat_text(text: str) -> str:
    """A chat message shown as plain text. The chat renders Markdown, so every Markdown and HTML
    special character is backslash-escaped: ``<script>`` shows as text and is never parsed as a tag."""
    return _MD_SPECIALS.sub(r"\\\g<0>", text)


_MD_SPECIALS = re.compile(r"[\\`*_{}\[\]()#+\-.!|~<>&\"']")
_MARKER = re.compile(r"\\\[(\d+)\\\]")  # an [n] marker as chat_text escapes it


def bold_marks(escaped: str) -> str:
    """Turn the mark characters of an escaped chat text into Markdown bold (a mark cut by streaming
    is closed at the end)."""
    if escaped.count(MARK[0]) > escaped.count(MARK[1]):
        escaped += MARK[1]
    return escaped.replace(MARK[0], "**").replace(MARK[1], "**")


def link_markers(escaped: str, numbers: set[int], anchor: str) -> str:
    """Each escaped ``[n]`` marker that names a source becomes a link to it (``#<anchor>-<n>``)."""
    def link(m: re.Match) -> str:
        n = int(m.group(1))
        return f'<a class="amqa-ref" href="#{anchor}-{n}">{m.group(0)}</a>' if n in numbers else m.group(0)

    return _MARKER.sub(link, escaped)


def _marked(text: str, spans: tuple[tuple[int, int], ...], tag: str) -> str:
    """``text`` escaped, with each span wrapped in ``<tag>`` (spans in order, inside the text)."""
    out, last = [], 0
    for a, b in spans:
        if a < last:
            continue
        out += [esc_lines(text[last:a]), f"<{tag}>", esc_lines(text[a:b]), f"</{tag}>"]
        last = b
    return "".join(out) + esc_lines(text[last:])


def source_html(s: SourceRef, anchor: str, lang: str) -> str:
    """One source under an answer: ``[n]``, the document's title and file, the page, the quote with its
    answering words in bold, and the whole passage one click away with the quote highlighted."""
    where = f' · <span class="amqa-page">{esc(s.location)}</span>' if s.location else ""
    title = f'<span class="amqa-title">{esc_lines(s.title)}</span> · ' if s.title else ""
    passage = ""
    if s.passage:
        passage = (f'<details class="amqa-passage"><summary>{esc(tr(lang, "whole"))}</summary>'
                   f"<div>{_marked(s.passage, (s.at,), 'mark')}</div></details>")
    # (Gradio's sanitizer keeps ids and classes, and drops data- attributes.)
    return (f'<div class="amqa-source" id="{anchor}-{s.n}">'
            f'<div>[{s.n}] {title}<span class="amqa-file">{esc(s.source)}</span>{where}</div>'
            f"<blockquote>{_marked(s.quote, s.marks, 'strong')}</blockquote>{passage}</div>")


# Every view of a conversation shows all its turns, and a view is sent at each step of an answer: a
# settled turn is rendered once (16 users x 5 questions: 1,160 renderings for 100 answers before).
@functools.lru_cache(maxsize=1024)
def turn_html(turn: Turn, anchor: str, lang: str) -> str:
    """An answer as the chat shows it: its text (escaped Markdown, answering words in bold, ``[n]``
    linked to its sources), the question searched when the conversation changed it, then its sources
    in a block that opens on a click."""
    parts = []
    if turn.note:
        parts.append(chat_text(turn.note))
    parts.append(link_markers(bold_marks(chat_text(turn.text)), {s.n for s in turn.sources}, anchor))
    if turn.searched:
        parts.append(f'<small class="amqa-searched">{esc(tr(lang, "searched"))} {esc_lines(turn.searched)}</small>')
    if turn.sources:
        names = " · ".join(dict.fromkeys(_short(s.title or s.source) for s in turn.sources))
        body = "".join(source_html(s, anchor, lang) for s in turn.sources)
        parts.append(f'<details class="amqa-sources"><summary>'
                     f"{esc(tr(lang, 'sources'))} ({len(turn.sources)}): {esc_lines(names)}</summary>{body}</details>")
    return "\n\n".join(parts)


def _short(text: str, limit: int = 50) -> str:
    """A title short enough for a line of titles (seed titles are first lines: up to 200 characters)."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


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


# --- the chat ---------------------------------------------------------------------------------

#: How often a waiting answer looks at the Stop button: a stopped answer ends within 50 ms, even while
#: an LLM is silent (its stream is read in another thread, which is left to finish on its own).
STOP_POLL = 0.05
_END = object()


def _pumped(make: Callable[[], Iterator[Any]], stop: threading.Event, cancel: threading.Event) -> Iterator[Any]:
    """The items of ``make()``, read in a thread of their own, so that waiting for the next one (an LLM
    can be silent for a minute) gives way to ``stop`` within :data:`STOP_POLL`. The stream's error is
    raised here; ``cancel`` tells the thread to close the stream and stop reading it."""
    items: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            stream = make()
            for item in stream:
                if cancel.is_set():
                    getattr(stream, "close", lambda: None)()
                    break
                items.put((item, None))
            items.put((_END, None))
        except BaseException as exc:  # handed to the reader
            items.put((_END, exc))

    threading.Thread(target=read, name="amqa-answer", daemon=True).start()
    while True:
        try:
            item, error = items.get(timeout=STOP_POLL)
        except queue.Empty:
            if stop.is_set():
                return
            continue
        if error is not None:
            raise error
        if item is _END:
            return
        yield item

_PENDING_IDS = itertools.count(1)


@dataclass(frozen=True)
class Pending:
    """A question waiting for its answer, in the conversation it was asked in (``id``: this one, even
    when the same question is asked twice)."""

    question: str
    conversation: str
    id: int = field(default_factory=lambda: next(_PENDING_IDS))



class ChatSession:
    """One browser tab's chat: its conversations, the questions waiting, the answer being written.

    Held in a ``gr.State``, so every event of the tab sees the same object (the handlers change it
    under :attr:`ChatHandlers.lock`)."""

    def __init__(self) -> None:
        self.conversations: list[Conversation] = [Conversation.new()]
        self.current = self.conversations[0].id
        self.pending: deque[Pending] = deque()
        self.live: tuple[Pending, str] | None = None  # the question being answered, and its text so far
        self.busy = False
        #: Answering runs asked for (one follows each question accepted) and not started yet: while one
        #: waits in Gradio's queue, the running one gives up its slot after each answer.
        self.runs_due = 0
        self.stop = threading.Event()
        self.done = 0           # questions settled in this tab: the page's "answer complete" marker
        self.settled: set[int] = set()  # the Pending ids settled (answered, failed or stopped)
        self.loaded = False     # the browser's stored conversations were read
        self.status = ""

    def __deepcopy__(self, memo: dict) -> "ChatSession":
        # gr.State deep-copies its initial value for each new tab: a fresh session (a lock or an event
        # cannot be copied, and nothing of another tab's session may leak into this one).
        return ChatSession()

    def conversation(self, cid: str) -> Conversation | None:
        return next((c for c in self.conversations if c.id == cid), None)

    @property
    def shown(self) -> Conversation:
        found = self.conversation(self.current)
        if found is None:
            found = Conversation.new()
            self.conversations.append(found)
            self.current = found.id
        return found


@dataclass(frozen=True)
class ChatView:
    """What a chat event shows: the messages, the status line (HTML), and, where not None, the
    passages table, what the browser stores, the list of conversations ``[(title, id)]``, and the
    text put back in the question box (a question refused, so that nothing typed is lost)."""

    messages: list[dict[str, str]]
    status: str
    passages: str | None = None
    stored: dict | None = None
    conversations: list[tuple[str, str]] | None = None
    current: str | None = None
    box: str | None = None


class ChatHandlers:
    """The chat's event handlers over one engine: plain Python, so they are tested without a browser
    (the Documents tab has its own, :class:`DocumentHandlers`)."""

    def __init__(self, engine: Engine, max_upload_bytes: int | None = None, limits: UILimits | None = None) -> None:
        if limits is None:
            limits = UILimits() if max_upload_bytes is None else UILimits(upload_bytes=max_upload_bytes)
        self.engine = engine
        self.limits = limits
        self.max_upload_bytes = limits.upload_bytes
        self.writers = ["extractive"] + ([engine.writer.id] if engine.writer.id != "extractive" else [])
        self.lock = threading.Lock()
        self.answering = 0  # sessions answering now, all pools

    # -- views ---------------------------------------------------------------------------------

    def _messages(self, session: ChatSession, lang: str) -> list[dict[str, str]]:
        conv = session.shown
        out = []
        for i, turn in enumerate(conv.turns):
            out += [{"role": "user", "content": chat_text(turn.question)},
                    {"role": "assistant", "content": turn_html(turn, f"amqa-{conv.id}-{i + 1}", lang)}]
        if session.live is not None and session.live[0].conversation == conv.id:
            question, text = session.live
            out += [{"role": "user", "content": chat_text(question.question)},
                    {"role": "assistant", "content": bold_marks(chat_text(text)) + " ▌" if text else "…"}]
        out += [{"role": "user", "content": chat_text(p.question)} for p in session.pending if p.conversation == conv.id]
        return out

    def _status(self, session: ChatSession, lang: str, text: str | None = None) -> str:
        if text is not None:
            session.status = text
        waiting = len(session.pending)
        line = session.status + (f" · {tr(lang, 'waiting', n=waiting)}" if waiting else "")
        busy = session.live is not None or waiting > 0
        return (f'<div class="amqa-status" data-done="{session.done}" data-waiting="{waiting}" '
                f'data-busy="{int(busy)}">{esc(line)}</div>')

    def _choices(self, session: ChatSession) -> list[tuple[str, str]]:
        shown = sorted((c for c in session.conversations if c.turns or c.id == session.current),
                       key=lambda c: c.updated, reverse=True)
        return [(c.title or "…", c.id) for c in shown]

    def _view(self, session: ChatSession, lang: str, status: str | None = None, *, passages: str | None = None,
              save: bool = False) -> ChatView:
        return ChatView(self._messages(session, lang), self._status(session, lang, status), passages,
                        dump_conversations(session.conversations, session.current) if save else None,
                        self._choices(session) if save else None, session.current if save else None)

    # -- events --------------------------------------------------------------------------------

    def load(self, session: ChatSession, stored: Any, lang: str) -> ChatView:
        """Page load: the conversations kept in the browser, the last one shown."""
        with self.lock:
            if not session.loaded:
                conversations, current = load_conversations(stored)
                if conversations:  # shown: the one shown before the reload (a new, empty one is not stored)
                    session.conversations = conversations + session.conversations
                    if session.conversation(current) is not None:
                        session.conversations = [c for c in session.conversations if c.turns]
                        session.current = current
                for conv in session.conversations:
                    del conv.turns[:-self.limits.turns]
                self._keep_newest(session)
                session.loaded = True
            return self._view(session, lang, tr(lang, "hello") if not session.shown.turns else "", save=True)

    def enqueue(self, session: ChatSession, question: str, lang: str) -> ChatView:
        """A question sent: it shows at once and waits for its turn (:meth:`drain` answers it).

        Bounded here, where it enters: a question longer than the engine reads is cut, with a message;
        beyond :attr:`UILimits.waiting` questions waiting it is refused and put back in the box."""
        question = question.strip() if isinstance(question, str) else ""
        length, limit = len(question), self.limits.question_chars
        question = question[:limit].rstrip()
        with self.lock:
            if not question:
                return self._view(session, lang, tr(lang, "empty"))
            if len(session.pending) >= self.limits.waiting:
                view = self._view(session, lang, tr(lang, "full", n=len(session.pending)))
                return dataclasses.replace(view, box=question)
            session.pending.append(Pending(question, session.shown.id))
            session.runs_due += 1
            note = tr(lang, "cut", limit=limit, length=length) if length > limit else None
            return self._view(session, lang, note)

    def drain(self, session: ChatSession, lang: str, k_value: float, writer: str,
              show_passages: bool) -> Iterator[ChatView]:
        """Answer the waiting questions one after the other, streaming each answer. Runs after every
        :meth:`enqueue`; when another run is already answering for this tab, it leaves it the queue.

        A run holds one of the pool's slots: when a later run of the same tab is waiting in Gradio's
        queue (behind other tabs' runs, the slots being full), this one stops after each answer and
        leaves that run the rest, so that a tab gets one answer per turn in the queue, and no tab holds
        a slot while others wait (issue 22, case 7: 4 tabs with 500 questions each held every slot)."""
        with self.lock:
            session.runs_due = max(0, session.runs_due - 1)
            if session.busy or not session.pending:
                return
            session.busy = True
            self.answering += 1
        released = False
        answered = 0
        try:
            while True:
                with self.lock:
                    # idle again under the same lock as the check: a question queued just after it starts
                    # a run of its own; a run of this tab waiting in the queue takes the next question
                    if not session.pending or (answered and session.runs_due > 0):
                        released = True
                        self._release(session)
                        return
                    item = session.pending.popleft()
                    session.stop.clear()
                    session.live = (item, "")
                    view = self._view(session, lang, "")
                    # The extractive answer takes milliseconds: shown as it starts and in steps only while
                    # the server has nobody else to answer. Each view sent costs the server's one event
                    # loop; 16 users at once (bench/ui_load.py, hash embedder): 76-84 ms of server CPU an
                    # answer with up to 5 views, 54-58 ms with one.
                    busy = not self.is_llm(writer) and self.answering > 1
                if not busy:
                    yield view
                yield from self._answer(session, item, lang, int(k_value), writer, show_passages, steps=not busy)
                answered += 1
        finally:  # also when the page goes away mid-answer
            if not released:
                with self.lock:
                    self._release(session)

    def _release(self, session: ChatSession) -> None:
        """The session's answering run ends (call with :attr:`lock` held)."""
        session.busy = False
        session.live = None
        self.answering -= 1

    def _answer(self, session: ChatSession, item: Pending, lang: str, k: int, writer: str,
                show_passages: bool, steps: bool = True) -> Iterator[ChatView]:
        conv = session.conversation(item.conversation)
        history = conv.history() if conv is not None else []
        answer, draft, stopped = None, "", False
        cancel = threading.Event()
        try:
            for piece in _pumped(lambda: self.engine.answer_stream(item.question, k=k, generator=self._writer(writer), wait=math.inf,
                                                                   history=history), session.stop, cancel):
                if session.stop.is_set():
                    stopped = True
                    break
                if isinstance(piece, Answer):
                    answer = piece
                else:  # an LLM's reply as it arrives; verified before the final text replaces it
                    draft += piece
                    with self.lock:
                        if item.id not in session.settled:  # not stopped meanwhile
                            session.live = (item, draft)
                        view = self._view(session, lang, tr(lang, "writing"))
                    yield view
        except Exception as exc:  # the server keeps serving; the user gets a message, not a trace
            if not isinstance(exc, AmqaError):
                log.exception("answer failed")
            shown = f"⚠️ {exc}" if isinstance(exc, AmqaError) else tr(lang, "not_answered", error=type(exc).__name__)
            yield self._finish(session, item, Turn(item.question, shown, (), ERROR), lang, shown)
            return
        finally:
            cancel.set()  # a stopped answer's stream ends at its next piece, unread
        if stopped or answer is None:
            turn = Turn(item.question, (draft + " " if draft else "") + tr(lang, "stopped"), (), STOPPED)
            yield self._finish(session, item, turn, lang, tr(lang, "stopped_status"))
            return
        note = tr(lang, "llm_not_shown", reason=answer.verification_reason) \
            if answer.verification is Verification.FALLBACK else ""
        turn = Turn.from_answer(item.question, answer, note)
        if not draft and steps:  # the extractive answer arrives whole: show it in a few steps
            words = turn.text.split(" ")
            step = max(STREAM_WORDS, -(-len(words) // STREAM_STEPS))
            for i in range(step, len(words), step):
                if session.stop.is_set():
                    stopped_turn = Turn(item.question, " ".join(words[:i]) + " " + tr(lang, "stopped"), (), STOPPED)
                    yield self._finish(session, item, stopped_turn, lang, tr(lang, "stopped_status"))
                    return
                with self.lock:
                    if item.id not in session.settled:  # not stopped meanwhile
                        session.live = (item, " ".join(words[:i]))
                    view = self._view(session, lang)
                yield view
                time.sleep(STREAM_PAUSE)
        status = tr(lang, "answered", ms=f"{answer.timings.get('total', 0) * 1000:.0f}", writer=answer.generator,
                    verification=answer.verification.value)
        yield self._finish(session, item, turn, lang, status,
                           passages_html(answer) if show_passages else "")

    def _finish(self, session: ChatSession, item: Pending, turn: Turn, lang: str, status: str,
                passages: str = "") -> ChatView:
        """A turn is complete: kept in its conversation (unless it was cleared, or stopped, meanwhile)."""
        with self.lock:
            self._settle(session, item, turn)
            session.live = None
            return self._view(session, lang, status, passages=passages, save=True)

    def _settle(self, session: ChatSession, item: Pending, turn: Turn) -> None:
        """Keep ``turn`` as the end of ``item``, once (a question stopped is not answered later); a
        conversation keeps its newest :attr:`UILimits.turns` turns."""
        if item.id in session.settled:
            return
        session.settled.add(item.id)
        session.done += 1
        conv = session.conversation(item.conversation)
        if conv is not None:
            conv.turns.append(turn)
            del conv.turns[:-self.limits.turns]
            conv.updated = time.time()

    def _keep_newest(self, session: ChatSession) -> None:
        """At most :attr:`UILimits.conversations` conversations in a session: the oldest go first (the
        one shown, and those with questions waiting, stay)."""
        extra = len(session.conversations) - self.limits.conversations
        if extra <= 0:
            return
        busy = {p.conversation for p in session.pending} | {session.current}
        if session.live is not None:
            busy.add(session.live[0].conversation)
        old = sorted((c for c in session.conversations if c.id not in busy), key=lambda c: c.updated)[:extra]
        session.conversations = [c for c in session.conversations if c not in old]

    def is_llm(self, name: str) -> bool:
        """Whether the writer named ``name`` answers in the LLM pool (its kind, :class:`WriterKind`)."""
        return self.engine.pipeline.writer_for(self._writer(name)).kind is WriterKind.LLM

    def _writer(self, name: str) -> Any:
        """The engine's own writer when ``name`` is its id, else the extractive one."""
        writer = self.engine.writer
        return writer if name == writer.id else "extractive"

    def stop(self, session: ChatSession, lang: str) -> ChatView:
        """Stop the answer being written, with what it had written so far, and the questions still
        waiting: each stays in the chat, marked stopped (and is not passed on as history)."""
        with self.lock:
            stopped = tr(lang, "stopped")
            if session.live is not None:
                item, text = session.live
                self._settle(session, item, Turn(item.question, (text + " " if text else "") + stopped, (), STOPPED))
                session.live = None
            for item in session.pending:
                self._settle(session, item, Turn(item.question, stopped, (), STOPPED))
            session.pending.clear()
            if session.busy:
                session.stop.set()
            return self._view(session, lang, tr(lang, "stopped_status"), save=True)

    def clear(self, session: ChatSession, lang: str) -> ChatView:
        """Clear everything of the shown conversation: its messages and sources, the answer being
        written, the questions waiting, and its copy in the browser's storage."""
        with self.lock:
            session.pending.clear()
            if session.busy:
                session.stop.set()
            session.conversations = [c for c in session.conversations if c.id != session.current]
            fresh = Conversation.new()
            session.conversations.append(fresh)
            session.current = fresh.id
            return self._view(session, lang, tr(lang, "cleared"), passages="", save=True)

    def new_conversation(self, session: ChatSession, lang: str) -> ChatView:
        """Start a new conversation; the others stay in the list."""
        with self.lock:
            if session.shown.turns:
                fresh = Conversation.new()
                session.conversations.append(fresh)
                session.current = fresh.id
                self._keep_newest(session)
            return self._view(session, lang, tr(lang, "hello"), passages="", save=True)

    def select(self, session: ChatSession, cid: str, lang: str) -> ChatView:
        """Show an earlier conversation (an empty one just left is dropped)."""
        with self.lock:
            if session.conversation(cid) is not None and cid != session.current:
                left = session.shown
                if not left.turns and not any(p.conversation == left.id for p in session.pending):
                    session.conversations.remove(left)
                session.current = cid
            return self._view(session, lang, "", passages="", save=True)


class DocumentHandlers:
    """The Documents tab's event handlers over one engine (list, filter, upload, delete, reindex): plain
    Python, tested without a browser. Every change goes through the engine's document library."""

    def __init__(self, engine: Engine, limits: UILimits | None = None) -> None:
        self.engine = engine
        self.limits = limits or UILimits()
        self.max_upload_bytes = self.limits.upload_bytes
        self._listed: tuple[Any, Any, list[str]] | None = None  # the last documents listed (_listing)

    def documents(self, lang: str, message: str = "", query: str = "") -> "DocsView":
        """The documents as the index holds them now (caught up with the folders first): the first
        :attr:`UILimits.docs_rows` of those whose title or file holds ``query`` (any case), with the
        counts; the rest are found with the filter box (100k files sent 14.5 MB a visit: case 15)."""
        listing, keys = self._listing()
        needle = (query if isinstance(query, str) else "")[:200].strip().casefold()
        limit = self.limits.docs_rows
        matching = (f for f, key in zip(listing.files, keys) if not needle or needle in key)
        shown: list[Any] = []
        found = 0
        for f in matching:
            found += 1
            if len(shown) < limit:
                shown.append(f)
        rows = [[f.title, f.source, self._folder_label(f.source, lang), f.language, f.page_count or "", f.chunks]
                for f in shown]
        note = tr(lang, "files", n=f"{len(listing.files):,}", updated=chat_text(listing.updated or "?"))
        if needle:
            note += " · " + tr(lang, "matching", n=f"{found:,}", query=chat_text(needle))
        if found > len(shown):
            note += " · " + tr(lang, "first_rows", n=len(shown))
        if listing.skipped:
            # Markdown: backslash escapes (entities would show literally, and code spans keep backslashes)
            some = listing.skipped[:self.limits.skipped_shown]
            named = ", ".join(f"{chat_text(s.source)} ({chat_text(s.reason)})" for s in some)
            more = len(listing.skipped) - len(some)
            named += " " + tr(lang, "more", n=f"{more:,}") if more > 0 else ""
            note += " · " + tr(lang, "skipped", files=named)
        if self.engine.library is not None:
            note += " · " + tr(lang, "library", folder=chat_text(str(self.engine.library)))
        removable = [f.source for f in shown if f.removable]
        headers = [tr(lang, f"col_{name}") for name in ("title", "file", "folder", "language", "pages", "chunks")]
        return DocsView(message, rows, note, removable, headers)

    def _listing(self) -> tuple[Any, list[str]]:
        """The engine's list of documents and each one's filter key (file and title, any case), made
        again only when the index changed (its manifest is another object): with 100k files, making
        them took 0.8 s of the 0.9 s of server CPU a visit cost (bench/docs_tab.py)."""
        manifest = self.engine.manifest  # catches up with the folders first
        cached = self._listed
        if cached is None or cached[0] is not manifest:
            listing = self.engine.documents()
            keys = [f"{f.source}\n{f.title or ''}".casefold() for f in listing.files]
            cached = self._listed = (manifest, listing, keys)
        return cached[1], cached[2]

    def _folder_label(self, source: str, lang: str) -> str:
        folder = self.engine.folder_of(source)
        if not folder.writable:
            return tr(lang, "folder_seeds")
        return tr(lang, "folder_library" if folder.prefix else "folder_docs")

    def upload(self, files: list[tuple[str, str]] | None, lang: str,
               progress: Callable[[str, int, int], None] | None = None, query: str = "") -> "DocsView":
        """Copy uploads into the upload folder (safe names only, never an overwrite) and index them;
        more than :attr:`UILimits.upload_files` at once are all refused. (The page removes each
        uploaded temporary file once this returns: :func:`_wire_documents`.)"""
        added: list[str] = []
        refused: list[str] = []
        files = list(files or [])
        if len(files) > self.limits.upload_files:
            refused.append(tr(lang, "too_many", n=len(files), limit=self.limits.upload_files))
            files = []
        for path, name in files:
            try:
                data = Path(path).read_bytes()
                added.append(self.engine.add_document(name, data, self.max_upload_bytes))
            except AmqaError as exc:
                refused.append(str(exc))
            except OSError as exc:
                refused.append(f"refused '{name}': could not be read ({exc.strerror or exc})")
        lines = []
        if added:
            try:
                report = self.engine.index(on_progress=self._progress(progress, lang))
                # A file the index skipped (a program renamed .pdf, an empty or unreadable file) was not
                # indexed: say why and do not keep it, rather than report it indexed.
                skipped = {s.source: s.reason for s in report.skipped}
                for source in [a for a in added if a in skipped]:
                    added.remove(source)
                    self.engine.remove_document(source)
                    refused.append(tr(lang, "not_indexed", source=source, reason=skipped[source]))
                if added:
                    lines.append(tr(lang, "indexed", files=", ".join(added), summary=self._summary(report, lang)))
            except AmqaError as exc:
                lines.append(f"⚠️ {exc}")
        lines += [f"❌ {r}" for r in refused]
        return self.documents(lang, chat_text("\n".join(lines) or tr(lang, "no_file")), query)

    def ask_delete(self, source: str | None, lang: str) -> tuple[bool, str]:
        """The confirmation asked before a deletion: (show it, its text)."""
        if not source:
            return False, tr(lang, "pick_first")
        return True, tr(lang, "confirm_text", source=chat_text(source),
                        folder=chat_text(str(self.engine.folder_of(source).path)))

    def delete(self, source: str | None, lang: str, query: str = "") -> "DocsView":
        """Delete a document (confirmed) from its folder and update the index. The page passes the
        source this tab confirmed (kept on the server: :func:`_wire_documents`), never one sent with
        the request."""
        if not source or not isinstance(source, str):
            return self.documents(lang, tr(lang, "pick_first"), query)
        try:
            report = self.engine.remove_document(source)
        except AmqaError as exc:
            return self.documents(lang, chat_text(f"⚠️ {exc}"), query)
        return self.documents(lang, tr(lang, "deleted", source=chat_text(source), summary=self._summary(report, lang)),
                              query)

    def reindex(self, lang: str, progress: Callable[[str, int, int], None] | None = None,
                query: str = "") -> "DocsView":
        """Bring the index up to date with the folders now, with progress."""
        try:
            report = self.engine.index(on_progress=self._progress(progress, lang))
        except AmqaError as exc:
            return self.documents(lang, chat_text(f"⚠️ {exc}"), query)
        return self.documents(lang, tr(lang, "reindexed", summary=self._summary(report, lang)), query)

    @staticmethod
    def _progress(progress: Callable[[str, int, int], None] | None, lang: str) -> Any:
        if progress is None:
            return None
        return lambda step, done, total: progress(tr(lang, step), done, total)

    @staticmethod
    def _summary(report: Any, lang: str) -> str:
        return tr(lang, "summary", added=len(report.added), changed=len(report.changed),
                  removed=len(report.removed), unchanged=len(report.unchanged), seconds=report.total_seconds)


@dataclass(frozen=True)
class DocsView:
    """What a Documents event shows: a message (Markdown), the table (its column names in the browser's
    language, and its rows), the note above it, and the documents that may be deleted."""

    message: str
    rows: list[list]
    note: str
    removable: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)


# --- the page ---------------------------------------------------------------------------------

def library_engine(engine: Engine) -> Engine:
    """The engine the UI serves: over the bundled seeds, the same engine with the user's library beside
    them (uploads never go into the seeds, which are part of the installed package)."""
    if engine.library is not None or engine.docs != bundled_seeds():
        return engine
    settings = engine.settings
    # The seeds with the library are another index than the seeds alone (which the CLI and the
    # evaluation use): its own store in the home, or a folder inside a store given with --store.
    store = settings.store / "with-library" if settings.store is not None else None
    return Engine(store=store, embedder=engine.embedder, chunking=engine.chunking, progress=engine.progress,
                  generator=engine.pipeline.writer_spec, settings=settings, policy=engine.policy,
                  library=settings.library, retrieval=engine.retrieval, writer_config=engine.writer_config,
                  admission=engine.admission)


def _i18n(gr: Any) -> Any:
    """The labels' translations, for ``gr.I18n`` (filled in here: the browser does not format them)."""
    values = {"formats": ", ".join(SUPPORTED_SUFFIXES), "mb": MAX_UPLOAD_BYTES // 1_000_000}
    return gr.I18n(**{lang: {key: texts[key].format(**values) for key in LABELS} for lang, texts in TEXTS.items()})


def _browser_secret(home: Path) -> str:
    """The key the browser's copy of the conversations is encrypted with: kept in amqa's home so that
    conversations survive a restart of the server (a new key would make them unreadable)."""
    path = Path(home) / "ui-secret"
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        pass
    secret = secrets.token_urlsafe(24)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secret, encoding="utf-8")
        path.chmod(0o600)
    except OSError:  # a read-only home: conversations last as long as this server
        pass
    return secret


def build_app(engine: Engine | None = None, *, max_upload_bytes: int | None = None,
              limits: UILimits | None = None) -> Any:
    """The Gradio Blocks app over ``engine`` (default: ``Engine()``, from the environment's settings;
    over the bundled seeds, with the user's library beside them: :func:`library_engine`). The index is
    loaded (or built) here, once, so the first answer is as fast as the next ones. ``limits``: what a
    session and a request may hold (:class:`UILimits`; ``max_upload_bytes`` sets its ``upload_bytes``)."""
    gr = _gradio()
    if limits is None:
        limits = UILimits() if max_upload_bytes is None else UILimits(upload_bytes=max_upload_bytes)
    engine = library_engine(engine or Engine(progress=True))
    engine.warm_up()
    handlers = ChatHandlers(engine, limits=limits)
    docs_handlers = DocumentHandlers(engine, limits)
    max_upload_bytes = limits.upload_bytes
    i18n = _i18n(gr)
    # Gradio's cache (uploads among them) emptied of old files as it serves (issue 22, case 10).
    with gr.Blocks(title="amqa: questions about your documents",
                   delete_cache=(limits.cache_every, limits.cache_age)) as app:
        gr.Markdown(i18n("intro"))
        session = gr.State(ChatSession)
        lang = gr.Textbox("en", visible=False, elem_id="amqa-lang")
        stored = gr.BrowserState({}, storage_key="amqa-conversations", secret=_browser_secret(engine.settings.home))
        with gr.Tab(i18n("chat"), id="chat"):
            chat = _chat_tab(gr, i18n, engine, handlers.writers)
        with gr.Tab(i18n("documents"), id="documents") as docs_tab:
            docs = _documents_tab(gr, i18n, max_upload_bytes)
        _wire_chat(gr, app, handlers, chat, session, lang, stored)
        _wire_documents(gr, app, docs_handlers, docs, docs_tab, lang)
    app.queue(default_concurrency_limit=4, max_size=64)
    app.amqa_limits = limits  # for serve(): the size limits Gradio checks as requests arrive
    return app


def _chat_tab(gr: Any, i18n: Any, engine: Engine, writers: list[str]) -> dict[str, Any]:
    """The conversations list, chat, question box, buttons, examples and settings, by name."""
    c: dict[str, Any] = {}
    with gr.Row():
        with gr.Column(scale=1, min_width=220):
            c["new"] = gr.Button(i18n("new"), elem_id="amqa-new", size="sm")
            c["list"] = gr.Radio([], label=i18n("conversations"), elem_id="amqa-conversations")
        with gr.Column(scale=4):
            c["chatbot"] = gr.Chatbot(show_label=False, height="70vh", elem_id="amqa-chat", sanitize_html=True,
                                      allow_tags=False, buttons=["copy", "copy_all"], feedback_options=None)
            with gr.Row():
                c["box"] = gr.Textbox(placeholder=i18n("placeholder"), show_label=False, elem_id="amqa-question",
                                      scale=6, autofocus=True)
                c["send"] = gr.Button(i18n("send"), variant="primary", scale=1, min_width=90, elem_id="amqa-send")
                c["stop"] = gr.Button(i18n("stop"), variant="secondary", scale=0, min_width=80, elem_id="amqa-stop")
                c["clear"] = gr.Button(i18n("clear"), variant="secondary", scale=0, min_width=80, elem_id="amqa-clear")
            c["status"] = gr.HTML("", elem_id="amqa-status")
            c["examples"] = gr.Dataset(components=[c["box"]], samples=[[q] for q in EXAMPLES], type="values",
                                       label=i18n("examples"), elem_id="amqa-examples")
            with gr.Accordion(i18n("settings"), open=False):
                c["k"] = gr.Slider(1, MAX_K, value=engine.k, step=1, label=i18n("k"))
                c["writer"] = gr.Dropdown(writers, value=writers[-1], label=i18n("writer"), elem_id="amqa-writer",
                                          info=i18n("writer_info"))
                c["show"] = gr.Checkbox(False, label=i18n("show"))
                c["passages"] = gr.HTML("", elem_id="amqa-passages")
    return c


def _wire_chat(gr: Any, app: Any, handlers: ChatHandlers, c: dict[str, Any], session: Any, lang: Any,
               stored: Any) -> None:
    """The chat's events: every one but the answering itself runs at once, outside the queue."""
    full = [c["chatbot"], c["status"], c["passages"], stored, c["list"]]

    def outputs(view: ChatView) -> tuple:
        skip = gr.skip()
        listing = gr.update(choices=view.conversations, value=view.current) if view.conversations is not None else skip
        return (view.messages, view.status, skip if view.passages is None else view.passages,
                skip if view.stored is None else view.stored, listing)

    def drain(s: ChatSession, code: str, k: float, writer: str, show: bool) -> Iterator[tuple]:
        answered = False
        for view in handlers.drain(s, code, k, writer, show):
            answered = True
            yield outputs(view)
        if not answered:  # another run answers this tab's questions
            yield (gr.skip(),) * len(full)

    def drain_if(llm: bool) -> Callable[..., Iterator[tuple]]:
        """The answering run of one pool: it answers when the writer chosen is of its kind, else skips."""
        def run(s: ChatSession, code: str, k: float, writer: str, show: bool) -> Iterator[tuple]:
            if handlers.is_llm(writer) != llm:
                yield (gr.skip(),) * len(full)
                return
            yield from drain(s, code, k, writer, show)
        return run

    # Two pools, as many runs at once as the engine has answering slots of each kind (amqa.service.admission:
    # extractive answers wait on the CPU, LLM answers on a remote server). A run waits inside the engine
    # for a slot only while a stopped answer still holds one (an LLM stream is closed at its next piece,
    # within the LLM's timeout), so it waits as long as it takes (wait=math.inf) rather than fail.
    inputs = [session, lang, c["k"], c["writer"], c["show"]]
    limits = handlers.engine.admission.limits
    pools = [dict(fn=drain_if(llm), inputs=inputs, outputs=full, show_progress="hidden", concurrency_id=name,
                  concurrency_limit=limit)
             for llm, name, limit in ((False, "extractive", limits.extractive), (True, "llm", limits.llm))
             if not llm or len(handlers.writers) > 1]  # no LLM pool without an LLM
    def asked_view(view: ChatView) -> tuple:  # a question refused goes back into the box
        return outputs(view) + (gr.skip() if view.box is None else view.box,)

    ask = dict(fn=lambda q, s, code: asked_view(handlers.enqueue(s, q, code)), inputs=[c["box"], session, lang],
               outputs=full + [c["box"]], js=CLEAR_BOX_JS, queue=False, trigger_mode="multiple",
               show_progress="hidden")
    sample = dict(fn=lambda sample, s, code: asked_view(handlers.enqueue(s, _sample(sample), code)),
                  inputs=[c["examples"], session, lang], outputs=full + [c["box"]], queue=False,
                  trigger_mode="multiple", show_progress="hidden")
    asked = [c["box"].submit(**ask, api_name="ask"), c["send"].click(**ask), c["examples"].click(**sample)]
    for i, event in enumerate(asked):
        for pool, name in zip(pools, ("answer", "answer_llm")):  # both follow the question at once; the
            # one not of its writer's kind skips. The Enter key's events are the named API (bench/ui_load.py).
            event.then(**pool, api_name=name if i == 0 else None)
    quick = dict(outputs=full, queue=False, show_progress="hidden")
    c["stop"].click(lambda s, code: outputs(handlers.stop(s, code)), [session, lang], **quick)
    c["clear"].click(lambda s, code: outputs(handlers.clear(s, code)), [session, lang], **quick)
    c["chatbot"].clear(lambda s, code: outputs(handlers.clear(s, code)), [session, lang], **quick)  # its trash icon
    c["new"].click(lambda s, code: outputs(handlers.new_conversation(s, code)), [session, lang], **quick)
    c["list"].input(lambda cid, s, code: outputs(handlers.select(s, cid, code)), [c["list"], session, lang], **quick)
    # The browser's language first, then the stored conversations.
    app.load(None, None, lang, js="() => navigator.language || 'en'").then(
        lambda s, data, code: outputs(handlers.load(s, data, code)), [session, stored, lang], full,
        show_progress="hidden")


def _sample(value: Any) -> str:
    """The question of a clicked example (what the browser sends, unchecked)."""
    first = value[0] if isinstance(value, (list, tuple)) and value else value
    return first if isinstance(first, str) else ""


def _documents_tab(gr: Any, i18n: Any, max_upload_bytes: int) -> dict[str, Any]:
    """The indexed files, deletion with a confirmation, re-indexing and the upload box, by name."""
    d: dict[str, Any] = {}
    d["info"] = gr.Markdown("", elem_id="amqa-docs-info")
    d["filter"] = gr.Textbox(placeholder=i18n("filter"), show_label=False, elem_id="amqa-docs-filter", max_lines=1)
    d["table"] = gr.Dataframe([], headers=["title", "file", "folder", "language", "pages", "chunks"],
                              interactive=False, wrap=True, elem_id="amqa-docs-table",
                              column_widths=["36%", "26%", "11%", "8%", "8%", "11%"])
    with gr.Row():
        d["pick"] = gr.Dropdown([], label=i18n("delete_pick"), elem_id="amqa-delete-pick", scale=3)
        d["delete"] = gr.Button(i18n("delete"), elem_id="amqa-delete", scale=1)
        d["reindex"] = gr.Button(i18n("reindex"), elem_id="amqa-reindex", scale=1)
    with gr.Group(visible=False, elem_id="amqa-confirm") as confirm:
        d["confirm_text"] = gr.Markdown("", elem_id="amqa-confirm-text")
        with gr.Row():
            d["yes"] = gr.Button(i18n("confirm"), variant="stop", elem_id="amqa-confirm-yes")
            d["no"] = gr.Button(i18n("cancel"), elem_id="amqa-confirm-no")
    d["confirm"] = confirm
    d["uploader"] = DocumentUpload(label=i18n("upload"), file_count="multiple", elem_id="amqa-upload")
    d["result"] = gr.Markdown("", elem_id="amqa-upload-result")
    return d


def _wire_documents(gr: Any, app: Any, handlers: DocumentHandlers, d: dict[str, Any], tab: Any, lang: Any) -> None:
    """The Documents tab's events. The list is read again on every page load and every visit.

    None of them is in Gradio's public API (``api_visibility="private"``: not listed, not callable by
    gradio_client or ``/gradio_api/call/...``): two HTTP calls deleted a document (issue 22, case 9).
    A deletion goes through the confirmation on the server: "Delete…" keeps the source asked about in
    the tab's state, and "Yes" deletes that one, whatever the request carries."""
    listing = [d["result"], d["table"], d["info"], d["pick"]]
    asked = gr.State(None)  # the source this tab was asked to confirm the deletion of
    private = dict(api_visibility="private")

    def outputs(view: DocsView) -> tuple:
        return (view.message, {"headers": view.headers, "data": view.rows}, view.note,
                gr.update(choices=view.removable, value=None))

    def progress_of(bar: Any) -> Callable[[str, int, int], None]:
        return lambda step, done, total: bar((done, total), desc=step)

    def upload(files: Any, code: str, query: str, bar: Any = gr.Progress()) -> tuple:
        try:
            return outputs(handlers.upload(files, code, progress_of(bar), query)) + (None,)
        finally:  # accepted (copied into the folder) or refused: Gradio's copy is not kept (case 10)
            remove_uploads(files)

    def reindex(code: str, query: str, bar: Any = gr.Progress()) -> tuple:
        return outputs(handlers.reindex(code, progress_of(bar), query))

    def ask(source: str | None, code: str) -> tuple:
        show, text = handlers.ask_delete(source, code)
        return gr.update(visible=show), text if show else "", gr.skip() if show else text, source if show else None

    def delete(confirmed: str | None, code: str, query: str) -> tuple:
        return outputs(handlers.delete(confirmed, code, query)) + (None,)

    refresh = dict(fn=lambda code, query: outputs(handlers.documents(code, query=query)), inputs=[lang, d["filter"]],
                   outputs=listing, show_progress="hidden", **private)
    app.load(**refresh)
    tab.select(**refresh)
    d["filter"].submit(**refresh)
    d["filter"].change(**refresh, trigger_mode="always_last")
    d["uploader"].upload(upload, [d["uploader"], lang, d["filter"]], listing + [d["uploader"]], concurrency_limit=1,
                         **private)
    d["reindex"].click(reindex, [lang, d["filter"]], listing, concurrency_limit=1, **private)
    d["delete"].click(ask, [d["pick"], lang], [d["confirm"], d["confirm_text"], d["result"], asked], queue=False,
                      **private)
    d["no"].click(lambda: (gr.update(visible=False), None), None, [d["confirm"], asked], queue=False, **private)
    d["yes"].click(lambda: gr.update(visible=False), None, d["confirm"], queue=False, **private).then(
        delete, [asked, lang, d["filter"]], listing + [asked], concurrency_limit=1, **private)


def remove_uploads(files: Any) -> None:
    """Remove Gradio's temporary copies of uploaded files (``(path, name)`` pairs), and their folder
    when it is left empty; only inside Gradio's upload folder."""
    from gradio.utils import get_upload_folder

    root = Path(get_upload_folder()).resolve()
    for item in files or []:
        path = Path(item[0] if isinstance(item, (tuple, list)) else item)
        try:
            resolved = path.resolve()
            if not resolved.is_relative_to(root) or resolved == root:
                continue
            resolved.unlink(missing_ok=True)
            if resolved.parent != root:
                resolved.parent.rmdir()  # Gradio keeps each upload in a folder of its own (its hash)
        except OSError:  # already gone, or the folder holds another upload
            pass


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
    """Launch ``app`` on ``host:port`` with amqa's style, translations and upload limit. Binds loopback
    unless told otherwise; a public share link only with ``share=True`` (``amqa serve --share``).
    Gradio's own start-up lines are silenced: they advise ``share=True`` in ``launch()``, which is not
    how amqa is told to share (``amqa serve`` prints the address itself)."""
    gr = _gradio()
    from starlette.middleware import Middleware

    limits = getattr(app, "amqa_limits", UILimits())
    # Gradio checks each file's size as it arrives (max_file_size) but takes up to 1,000 files in one
    # request: the whole request is bounded before it is read (issue 22, case 10).
    request_bytes = limits.upload_files * limits.upload_bytes + limits.upload_overhead
    # Gradio lists no private event in its API and gradio_client refuses them, but its by-name routes
    # (/gradio_api/call/<name>, /gradio_api/run/<name>) still run them (issue 22, case 9).
    private = frozenset(fn.api_name for fn in app.fns.values()
                        if getattr(fn, "api_visibility", "public") == "private" and isinstance(fn.api_name, str))
    return app.launch(server_name=host, server_port=port, share=share, css=CSS, js=PAGE_JS, i18n=_i18n(gr),
                      max_file_size=limits.upload_bytes, show_error=False, prevent_thread_lock=not block, quiet=True,
                      app_kwargs={"middleware": [Middleware(RequestBound, max_bytes=request_bytes, limits=limits,
                                                            private=private)]})


def _size(n: int) -> str:
    """``10 MB``, ``100 kB``: a size as a person reads it."""
    return f"{n / 1e6:.0f} MB" if n >= 1_000_000 else f"{n / 1e3:.0f} kB"


class RequestBound:
    """ASGI middleware in front of Gradio: an upload request (``POST .../upload``) larger than
    ``max_bytes``, or of unknown length, is refused (413, 411) before any of it is read; a call by
    name of a ``private`` event (``POST .../call/<name>``, ``.../run/<name>``) is refused (404). Each
    with a one-line message."""

    def __init__(self, app: Any, max_bytes: int, limits: UILimits, private: frozenset[str]) -> None:
        self.app, self.max_bytes, self.limits, self.private = app, max_bytes, limits, private

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and scope.get("method") == "POST":
            parts = scope.get("path", "").rstrip("/").split("/")
            refusal = None
            if len(parts) >= 2 and parts[-2] in ("call", "run"):
                if parts[-1] in self.private:
                    refusal = (404, f"'{parts[-1]}' is not part of amqa's API: use the page")
            elif parts[-1] == "upload":
                length = dict(scope.get("headers") or []).get(b"content-length")
                if length is None or not length.isdigit() or int(length) > self.max_bytes:
                    refusal = (411 if length is None or not length.isdigit() else 413,
                               f"refused: an upload holds at most {self.limits.upload_files} files of "
                               f"{_size(self.limits.upload_bytes)} each; add them in several")
            if refusal is not None:
                body = refusal[1].encode()
                await send({"type": "http.response.start", "status": refusal[0],
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
