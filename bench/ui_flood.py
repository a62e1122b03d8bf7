"""A queued-question flood in the web UI, and what a user's question waits meanwhile (prints numbers;
not a test).

    python bench/ui_flood.py [--flooders 4] [--burst 500] [--seconds 30] [--embedder hash]

Starts ``amqa serve`` over the bundled seeds as bench/ui_load.py does (its index built first in a temp
home). ``--flooders`` tabs each send ``--burst`` questions at once through the named ``/ask`` endpoint
(what Enter triggers; it bypasses Gradio's queue) and then one ``/answer`` run, over and over for
``--seconds``, speaking Gradio's queue protocol over plain HTTP. Once every flooder sent its first
burst, another tab asks a question every 2 s for ``--seconds``. Prints the flooders' questions accepted and refused, their answers, and the user's wait
(question sent to answer complete): p50, max.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fake_llm import FakeLLM  # noqa: E402
from ui_load import QUESTIONS, Session, endpoints_of, start_server  # noqa: E402


def flooder(url: str, endpoints: dict[str, int], burst: int, stop: threading.Event, counts: dict,
            lock: threading.Lock) -> None:
    """A tab sending ``burst`` questions at once the quickest way (the ask event is not queued: one
    POST each), then one answering run through the queue, over and over."""
    tab = Session(url, endpoints)
    try:
        while not stop.is_set():
            for i in range(burst):
                r = tab.http.post(f"{url}gradio_api/run/predict",
                                  json={"data": [QUESTIONS[i % len(QUESTIONS)], None, "en"],
                                        "fn_index": endpoints["ask"], "session_hash": tab.hash})
                status = r.json()["data"][1] if r.status_code == 200 else ""
                with lock:
                    counts["refused" if "already waiting" in status else "accepted"] += 1
            with lock:
                counts["bursts"] += 1
            _, status, *_ = tab.call("answer", None, "en", 5, "extractive", False)
            done = re.search(r'data-done="(\d+)"', status)
            with lock:  # the tab's questions settled so far
                counts["done"][id(tab)] = int(done.group(1)) if done else 0
    except Exception:  # the server went away at the end of the run
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--embedder", default="hash")
    args = parser.parse_args()
    llm = FakeLLM()
    with tempfile.TemporaryDirectory(prefix="amqa-ui-flood-") as tmp:
        home = Path(tmp)
        subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "index", "--embedder", args.embedder], check=True,
                       env={**os.environ, "AMQA_HOME": str(home)}, stdout=subprocess.DEVNULL)
        proc, url = start_server(home, args.embedder, llm.url)
        try:
            endpoints = endpoints_of(url)
            user = Session(url, endpoints)
            user.call("ask", QUESTIONS[0], None, "en")  # warm up
            user.call("answer", None, "en", 5, "extractive", False)
            counts: dict = {"accepted": 0, "refused": 0, "bursts": 0, "done": {}}
            lock, stop = threading.Lock(), threading.Event()
            threads = [threading.Thread(target=flooder, args=(url, endpoints, args.burst, stop, counts, lock),
                                        daemon=True) for _ in range(args.flooders)]
            for t in threads:
                t.start()
            t0 = time.monotonic()
            while counts["bursts"] < args.flooders and time.monotonic() - t0 < 600:
                time.sleep(0.5)  # every flooder's first burst sent, its answering run started
            time.sleep(1)
            print(f"first bursts sent in {time.monotonic() - t0:.0f} s")
            waits = []
            t_end = time.monotonic() + args.seconds
            while time.monotonic() < t_end:
                t0 = time.perf_counter()
                try:
                    user.call("ask", QUESTIONS[len(waits) % len(QUESTIONS)], None, "en")
                    user.call("answer", None, "en", 5, "extractive", False)
                except Exception as exc:  # the client's 300 s timeout: the wait is at least that
                    print(f"the user's question failed after {time.perf_counter() - t0:.0f} s: {type(exc).__name__}")
                    user = Session(url, endpoints)
                waits.append(time.perf_counter() - t0)
                time.sleep(2)
            stop.set()
            with lock:
                answered = sum(counts["done"].values())
                print(f"{args.flooders} tabs sending {args.burst} questions at a time for {args.seconds:.0f} s "
                      f"(embedder {args.embedder}, load average {os.getloadavg()[0]:.1f}): "
                      f"{counts['accepted']:,} accepted, {counts['refused']:,} refused, "
                      f"{answered:,} of theirs settled (answered or stopped)")
            print(f"another user's {len(waits)} questions meanwhile: wait p50 {statistics.median(waits):.2f} s, "
                  f"max {max(waits):.2f} s")
        finally:
            proc.terminate()
            proc.wait(30)
            llm.close()


if __name__ == "__main__":
    main()
