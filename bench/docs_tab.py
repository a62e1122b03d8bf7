"""What a visit to the Documents tab costs with many files (prints numbers; not a test).

    python bench/docs_tab.py [--files 100000] [--visits 5] [--keep DIR]

Makes ``--files`` small text files (in ``--keep DIR``, reused on the next run, else a temp folder),
indexes them with the hash embedder (``amqa index``), starts ``amqa serve`` over them in its own
process and visits the Documents tab as the page does: the tab's ``select`` event, run through
Gradio's queue protocol over plain HTTP. Prints, per visit, the bytes the server sent, the time to the
complete listing and the server's CPU seconds (from /proc), then their medians; and the same for a
visit with a filter (where the page has a filter box).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

WORDS = "usinage fonderie campus apprentis robot alliage métal école ingénieur atelier soudure".split()


def make_files(docs: Path, n: int) -> None:
    """``n`` small notes in folders of 1,000 (``sub-017/note-017042.txt``); kept when already there."""
    if docs.is_dir() and sum(1 for _ in docs.rglob("*.txt")) == n:
        return
    for i in range(n):
        folder = docs / f"sub-{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        words = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(12))
        (folder / f"note-{i:06d}.txt").write_text(f"Note {i}\n\nLa note {i} parle de {words}.\n", encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(docs: Path, store: Path, home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "AMQA_HOME": str(home), "AMQA_EMBEDDER": "hash"}
    proc = subprocess.Popen([sys.executable, "-m", "amqa.frontends.cli", "serve", "--docs", str(docs), "--store", str(store),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}/"
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"amqa serve exited with {proc.returncode}")
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("amqa serve did not start in 600 s")


def listing_event(config: dict) -> tuple[int, list[str]]:
    """The fn index of the Documents tab's select event, and the elem_ids of its inputs."""
    components = {c["id"]: c for c in config["components"]}
    for d in config["dependencies"]:
        if any(components.get(t[0], {}).get("type") == "tabitem" and t[1] == "select" for t in d["targets"]):
            return d["id"], [components[i].get("props", {}).get("elem_id") or "" for i in d["inputs"]]
    raise SystemExit("no Documents tab select event in this app")


def visit(url: str, fn_index: int, data: list) -> tuple[int, float]:
    """One run of the event as the page does it: bytes received, seconds to the complete reply."""
    import httpx

    session = uuid.uuid4().hex
    t0 = time.perf_counter()
    with httpx.Client(timeout=600) as http:
        http.post(f"{url}gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                        "event_data": None, "trigger_id": None}).raise_for_status()
        size = 0
        with http.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                size += len(line.encode()) + 1
                if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                    return size, time.perf_counter() - t0
    raise RuntimeError("the event stream ended")


def measure(label: str, url: str, pid: int, fn_index: int, data: list, visits: int) -> None:
    sizes, times, cpus = [], [], []
    for _ in range(visits):
        cpu = cpu_seconds(pid)
        size, took = visit(url, fn_index, data)
        cpus.append(cpu_seconds(pid) - cpu)
        sizes.append(size)
        times.append(took)
    print(f"{label}: {statistics.median(sizes) / 1e6:.3f} MB sent, {statistics.median(times):.2f} s to the listing, "
          f"server CPU {statistics.median(cpus):.2f} s a visit (medians of {visits}; "
          f"sizes {min(sizes):,}-{max(sizes):,} B, CPU {min(cpus):.2f}-{max(cpus):.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="folder for the files and their index, reused by the next run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="amqa-docs-tab-") as tmp:
        base = args.keep or Path(tmp)
        docs, store, home = base / "docs", base / "store", Path(tmp) / "home"
        t0 = time.perf_counter()
        make_files(docs, args.files)
        subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "index", "--docs", str(docs), "--store", str(store),
                        "--embedder", "hash"], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "AMQA_HOME": str(home)})
        print(f"{args.files:,} files made and indexed (hash embedder) in {time.perf_counter() - t0:.0f} s, "
              f"load average {os.getloadavg()[0]:.1f}")
        proc, url = start_server(docs, store, home)
        try:
            import httpx

            fn_index, inputs = listing_event(httpx.get(f"{url}config", timeout=60).json())
            plain = ["en" if name == "amqa-lang" else "" for name in inputs]
            visit(url, fn_index, plain)  # warm-up: the first visit catches the index up with the folder
            measure("a visit", url, proc.pid, fn_index, plain, args.visits)
            if "amqa-docs-filter" in inputs:
                filtered = ["en" if name == "amqa-lang" else "note-0421" if name == "amqa-docs-filter" else ""
                            for name in inputs]
                measure("a visit filtered on 'note-0421'", url, proc.pid, fn_index, filtered, args.visits)
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
