"""LLM answer writers behind one interface: :class:`ChatModel`, one method ``chat_stream(messages)``.

The extractive writer (:mod:`amqa.writers.extractive.sentences`) stays the offline default and the fallback; an LLM's
reply is checked by :mod:`amqa.writers.llm.verification` before it is shown.

>>> get_generator("extractive") is None
True
>>> get_generator("openai", base_url="http://127.0.0.1:11434/v1", model="llama3.2").id
'openai:llama3.2@http://127.0.0.1:11434/v1'
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from amqa.errors import GeneratorError, InvalidInputError, MissingDependencyError
from amqa.settings import Settings, read_api_key


class ChatModel(ABC):
    """A chat LLM. Subclasses implement :meth:`chat_stream`; constructors are cheap."""

    id: str = "chat-model"
    #: The whole reply must arrive within this many seconds ...
    deadline: float = 60.0
    #: ... and be at most this long: a server that streams forever, or ignores ``max_tokens``, is cut
    #: off (the answer falls back to the extractive one) instead of holding a user, or a UI slot, forever.
    #: 8,000 characters: four times the 400 tokens amqa asks an OpenAI server for (3-4 characters each).
    max_reply_chars: int = 8000

    @abstractmethod
    def chat_stream(self, messages: list[dict]) -> Iterator[str]:
        """Yield the reply to ``messages`` (OpenAI chat format) piece by piece."""

    def reply_stream(self, messages: list[dict]) -> Iterator[str]:
        """:meth:`chat_stream` held to :attr:`deadline` and :attr:`max_reply_chars`: past either, the
        stream is closed and a :class:`GeneratorError` raised. What amqa calls, for every backend."""
        start, length = time.monotonic(), 0
        stream = self.chat_stream(messages)
        try:
            for piece in stream:
                length += len(piece)
                if length > self.max_reply_chars:
                    raise GeneratorError(f"the LLM's reply passed {self.max_reply_chars} characters: cut off")
                if time.monotonic() - start > self.deadline:
                    raise GeneratorError(f"the LLM's reply took more than {self.deadline:.0f} s: cut off")
                if piece:  # backends may yield "" (a keep-alive) so that the deadline is checked
                    yield piece
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # ends the HTTP request


#: Server-sent events are read a line at a time, at most this many bytes at once (a delta is a few
#: hundred): a reply sent as one endless line is read in parts and cut off at the deadline.
MAX_LINE_BYTES = 64 * 1024


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Follow no redirect: urllib's own follows a 302 to any server with the request's headers, the
    API key's ``Authorization`` included, and shows that server's reply. A redirect becomes the
    HTTPError of its status (:meth:`OpenAIChat._http_message` names where it pointed)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 (urllib's signature)
        return None


class OpenAIChat(ChatModel):
    """Any OpenAI-compatible chat-completions endpoint (Ollama, vLLM, llama.cpp server, LM Studio,
    hosted APIs), streamed. Standard library only.

    ``api_key`` is sent as a bearer token when set (local servers usually need none), to ``base_url``
    only: a redirect is not followed (one line naming where it pointed; give that URL as the base URL).
    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0,
                 temperature: float = 0.0, max_tokens: int = 400, stream: bool = True) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise InvalidInputError(f"the LLM base URL must start with http:// or https://. Currently, it is {base_url!r}")
        if not model:
            raise InvalidInputError("the LLM model name is empty: pass --model NAME (or set AMQA_MODEL)")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.deadline = timeout  # --llm-timeout bounds the whole reply, not only each read
        self.temperature = temperature
        self.max_tokens = max_tokens
        #: False: the whole reply in one response (for recording evaluations: llama-cpp-python's server
        #: ends a stream early, without a finish reason, when another request is waiting).
        self.stream = stream
        self.max_reply_chars = 8 * max_tokens  # a token is 3-4 characters: twice that is a server ignoring it
        self.id = f"openai:{model}@{self.base_url}"
        self._opener = urllib.request.build_opener(_NoRedirects)

    def chat_stream(self, messages: list[dict]) -> Iterator[str]:
        body = json.dumps({"model": self.model, "messages": messages, "stream": self.stream,
                           "temperature": self.temperature, "max_tokens": self.max_tokens}).encode()
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", body, headers, method="POST")
        try:
            response = self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                raise GeneratorError(self._redirect_message(exc.code, exc.headers.get("Location"))) from exc
            raise GeneratorError(self._http_message(exc.code, exc.read()[:500].decode("utf-8", "replace"))) from exc
        except (socket.timeout, TimeoutError) as exc:
            raise GeneratorError(f"no reply from the LLM at {self.base_url} within {self.timeout:.0f} s") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise GeneratorError(f"no reply from the LLM at {self.base_url} within {self.timeout:.0f} s") from exc
            raise GeneratorError(f"cannot reach the LLM at {self.base_url} ({reason}); is the server running?") from exc
        if not self.stream:
            yield self._whole(response)
            return
        finished = False
        try:
            with response:
                while raw := response.readline(MAX_LINE_BYTES):
                    line = raw.decode("utf-8", "replace").strip()
                    piece = ""
                    if line.startswith("data:") and (data := line[5:].strip()) == "[DONE]":
                        if not finished:
                            raise GeneratorError(self._cut_message())
                        return
                    if line.startswith("data:"):
                        try:
                            choice = json.loads(data)["choices"][0]
                            finished = finished or bool(choice.get("finish_reason"))
                            piece = ((choice.get("delta") or {}).get("content")
                                     or (choice.get("message") or {}).get("content") or "")
                        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                            piece = ""
                    # Keep-alive comments, empty deltas and the parts of an overlong line yield "", so
                    # that reply_stream still checks its deadline.
                    yield piece if isinstance(piece, str) else ""
        except (socket.timeout, TimeoutError) as exc:
            raise GeneratorError(f"the LLM at {self.base_url} stopped answering for {self.timeout:.0f} s") from exc

    def _cut_message(self) -> str:
        # Measured on llama-cpp-python 0.3.36's server: with a second request waiting, a stream got its
        # role, then [DONE] and no finish reason: an empty or partial reply, not one to show or record.
        return (f"the LLM at {self.base_url} ended its reply without finishing it (another request "
                "interrupted it? a llama-cpp-python server needs --interrupt_requests False)")

    def _whole(self, response) -> str:
        """The reply of a non-streamed request."""
        try:
            with response:
                raw = response.read(self.max_reply_chars * 4 + 65536)
        except (socket.timeout, TimeoutError) as exc:
            raise GeneratorError(f"the LLM at {self.base_url} stopped answering for {self.timeout:.0f} s") from exc
        try:
            choice = json.loads(raw)["choices"][0]
            reply = (choice.get("message") or {}).get("content") or choice.get("text") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise GeneratorError(f"the LLM at {self.base_url} sent a reply that is not a chat completion") from None
        if not choice.get("finish_reason"):
            raise GeneratorError(self._cut_message())
        return reply if isinstance(reply, str) else ""

    def _redirect_message(self, code: int, location: str | None) -> str:
        where = f" to {location.strip()[:200]}" if location else ""
        return (f"the LLM at {self.base_url} redirected{where} (HTTP {code}): not followed, so that the API key "
                "goes to no other server; if that is your LLM server, pass its URL with --base-url")

    def _http_message(self, code: int, body: str) -> str:
        if code in (401, 403):
            return (f"the LLM endpoint refused the API key (HTTP {code}); set AMQA_API_KEY (or OPENAI_API_KEY)")
        if code == 404:
            return f"model '{self.model}' or the chat endpoint was not found at {self.base_url} (HTTP 404)"
        if code in (400, 413) and re.search(r"context|too long|maximum|tokens", body, re.I):
            return f"the prompt is too long for the model's context (HTTP {code}); ask with a smaller -k"
        return f"the LLM server failed (HTTP {code}): {body.strip()[:200]}"


class TransformersChat(ChatModel):
    """A local Hugging Face causal LM folder, streamed with a text streamer (needs ``amqa[st]``).

    Uses the tokenizer's chat template, or a plain "System/User/Assistant" layout when it has none.
    """

    FALLBACK_STOPS = ("\nUser:", "\nSystem:")
    STALL_SECONDS = 120.0  # no new token for this long: the model is stuck (an error, then the extractive answer)
    STOP_SECONDS = 10.0    # how long a stopped stream waits for the model to see the stop flag

    def __init__(self, path: str, max_new_tokens: int = 256, device: str = "cpu") -> None:
        if not path:
            raise InvalidInputError("the transformers model path is empty: use transformers:PATH")
        self.path = path
        self.max_new_tokens = max_new_tokens
        self.device = device
        self.id = f"transformers:{path}"
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            try:
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as exc:
                raise MissingDependencyError("the transformers writer needs: pip install -e '.[st]'") from exc
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.path)
                model: Any = AutoModelForCausalLM.from_pretrained(self.path)
                self._model = model.to(self.device).eval()
            except (OSError, ValueError) as exc:
                raise GeneratorError(f"could not load the model folder '{self.path}': {exc}") from exc
        return self._model, self._tokenizer

    def prompt(self, messages: list[dict]) -> tuple[str, bool]:
        """The prompt text, and whether the tokenizer's own chat template made it."""
        _, tokenizer = self._load()
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True), True
        turns = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
        return "\n".join(turns) + "\nAssistant:", False

    def chat_stream(self, messages: list[dict]) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        with self._lock:  # one generation at a time per loaded model
            model, tokenizer = self._load()
            text, templated = self.prompt(messages)
            inputs = tokenizer(text, return_tensors="pt").to(self.device)
            limit = getattr(model.config, "max_position_embeddings", None)
            if limit and inputs["input_ids"].shape[1] + self.max_new_tokens > limit:
                raise GeneratorError(
                    f"the prompt ({inputs['input_ids'].shape[1]} tokens) is too long for the model's context "
                    f"({limit}); ask with a smaller -k")
            streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True,
                                            timeout=self.STALL_SECONDS)
            kwargs = dict(**inputs, streamer=streamer, max_new_tokens=self.max_new_tokens, do_sample=False,
                          pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                          eos_token_id=tokenizer.eos_token_id)
            errors: list[BaseException] = []
            stop = threading.Event()
            kwargs["stopping_criteria"] = _stopping_criteria(stop)

            def run():
                try:
                    model.generate(**kwargs)
                except BaseException as exc:  # reported to the caller below
                    errors.append(exc)
                    streamer.end()

            worker = threading.Thread(target=run, name="amqa-generate", daemon=True)
            worker.start()
            try:
                yield from (cut_at_stops(streamer, self.FALLBACK_STOPS) if not templated else streamer)
            except queue.Empty as exc:
                raise GeneratorError(f"the local model wrote nothing for {self.STALL_SECONDS:.0f} s") from exc
            finally:
                # A reader that stops early (a cut-off at --llm-timeout or at the size cap, a Stop in the
                # UI, a stop string) stops the model too: it would otherwise write on to max_new_tokens,
                # holding a core, after the lock that keeps one generation at a time was released. The
                # model sees the flag between two tokens; a model stuck longer is left to its thread.
                stop.set()
                worker.join(timeout=self.STOP_SECONDS)
            if errors:
                raise GeneratorError(f"the local model failed: {errors[0]}") from errors[0]


def _stopping_criteria(stop: threading.Event) -> Any:
    """transformers stopping criteria that end generation once ``stop`` is set."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Stopped(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_Stopped()])


def cut_at_stops(pieces: Iterable[str], stops: Sequence[str]) -> Iterator[str]:
    r"""Pass text pieces through until one of ``stops`` appears (possibly split across pieces); what
    comes before it is yielded, the rest dropped. A model without a chat template tends to write the
    next "User:" turn itself.

    >>> "".join(cut_at_stops(["Bonjour", " le monde\nUs", "er: encore"], ["\nUser:"]))
    'Bonjour le monde'

    """
    produced, emitted = "", 0
    longest = max(map(len, stops), default=0)
    for piece in pieces:
        produced += piece
        hits = [i for i in (produced.find(s) for s in stops) if i >= 0]
        if hits:
            if min(hits) > emitted:
                yield produced[emitted:min(hits)]
            return
        # Hold back a tail that could be the start of a stop string.
        safe = max(emitted, len(produced) - longest + 1)
        if safe > emitted:
            yield produced[emitted:safe]
            emitted = safe
    if len(produced) > emitted:
        yield produced[emitted:]


class RecordedChat(ChatModel):
    """``inner``'s replies, recorded to the JSONL file ``path`` and replayed from it: a prompt asked again
    (the same model name and messages) gets the recorded reply at once, without the LLM. For evaluations:
    at temperature 0 a reply depends on the prompt alone, so a change to amqa's checks can be scored again
    without asking the model again. A failed reply is not recorded.

    >>> import tempfile, pathlib
    >>> class Echo(ChatModel):
    ...     calls = 0
    ...     def chat_stream(self, messages):
    ...         Echo.calls += 1
    ...         yield messages[-1]["content"].upper()
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "replies.jsonl"
    >>> [ "".join(RecordedChat(Echo(), path).reply_stream([{"role": "user", "content": "oui"}])) for _ in "ab"]
    ['OUI', 'OUI']
    >>> Echo.calls
    1
    """

    def __init__(self, inner: ChatModel, path: str | os.PathLike) -> None:
        self.inner = inner
        self.path = Path(path).expanduser()
        self.id = inner.id
        self.deadline = inner.deadline
        self.max_reply_chars = inner.max_reply_chars
        self._lock = threading.Lock()
        self._replies: dict[str, str] = {}
        self._name = getattr(inner, "model", inner.id)  # the model's name, not its server's address
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        except OSError as exc:
            raise InvalidInputError(f"cannot read the LLM record file '{self.path}': {exc.strerror}") from exc
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
                self._replies[record["key"]] = record["reply"]
            except (ValueError, KeyError, TypeError):
                raise InvalidInputError(f"line {number} of the LLM record file '{self.path}' is not a recorded "
                                        "reply: give another file (or remove that line)") from None

    def key(self, messages: list[dict]) -> str:
        return hashlib.sha256(json.dumps([self._name, messages], sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def chat_stream(self, messages: list[dict]) -> Iterator[str]:
        key = self.key(messages)
        if key in self._replies:
            yield self._replies[key]
            return
        t0, pieces = time.monotonic(), []
        for piece in self.inner.reply_stream(messages):
            pieces.append(piece)
            yield piece
        reply = "".join(pieces)
        record = {"key": key, "model": self._name, "reply": reply, "seconds": round(time.monotonic() - t0, 3),
                  "question": messages[-1].get("content", "")[-300:]}
        with self._lock:
            self._replies[key] = reply
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")


def get_generator(spec: str | ChatModel | None = None, *, base_url: str | None = None, model: str | None = None,
                  api_key_env: str | None = None, timeout: float | None = None,
                  settings: Settings | None = None) -> ChatModel | None:
    """``None`` for the extractive writer, or a :class:`ChatModel` from a spec:
    ``extractive``, ``openai`` (with ``base_url`` and ``model``), ``transformers:PATH``.

    Unset arguments come from ``settings`` (default: :meth:`Settings.from_env`: ``AMQA_GENERATOR``,
    ``AMQA_BASE_URL``, ``AMQA_MODEL``, ``AMQA_LLM_TIMEOUT``, ``AMQA_API_KEY``). ``api_key_env`` names
    another variable that holds the API key.
    """
    if isinstance(spec, ChatModel):
        return spec
    settings = settings or Settings.from_env()
    spec = (spec or settings.generator or "extractive").strip()
    if spec == "extractive":
        return None
    if spec == "openai":
        api_key = read_api_key(api_key_env) if api_key_env else settings.api_key
        chat: ChatModel = OpenAIChat(base_url or settings.base_url, model or settings.model, api_key,
                                     timeout or settings.llm_timeout)
    elif spec.startswith("transformers:"):
        chat = TransformersChat(spec.split(":", 1)[1])
    else:
        raise InvalidInputError(f"unknown generator '{spec}'. Use 'extractive' (default), 'openai' (with --base-url "
                                "and --model) or 'transformers:PATH'")
    return RecordedChat(chat, settings.llm_record) if settings.llm_record is not None else chat
