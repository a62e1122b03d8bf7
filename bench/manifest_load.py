"""What loading an index of many files costs, this code against others side by side (prints numbers; not a test).

    python bench/manifest_load.py [--files 5000] [--rounds 7] [--loads 15] [--against /work/main/src ffc7766 ...]

Builds a store of ``--files`` small text files once, with the hash test embedder (two segments: a
few files changed after the first build), in a temporary folder. Then, in rounds, each code in turn
loads it in its own process (``PYTHONPATH`` set to that code's ``src``): ``--loads`` calls of
``load_index`` (the first one counted apart: a cold ask loads once) and of ``Manifest.from_dict``
alone where the code has it. An ``--against`` is a folder of sources or a git revision of this
repository (exported to the temporary folder); this worktree's ``src`` is always measured.
Prints each round's medians and, at the end, the median of the rounds with the ratio to this code.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import gc, json, statistics, sys, time
from pathlib import Path
from amqa.embedders import get_embedder
from amqa.index.local.store import load_index
store, loads = Path(sys.argv[1]), int(sys.argv[2])
embedder = get_embedder("hash")
times = []
for _ in range(loads):
    t0 = time.perf_counter()
    index = load_index(store, embedder)
    times.append((time.perf_counter() - t0) * 1000)
    assert index is not None and len(index.files) > 0
    del index
parse = []
try:
    from amqa.index.manifest import Manifest
except ImportError:
    Manifest = None
if Manifest is not None:
    name = (store / "CURRENT").read_text().strip()
    raw = json.loads((store / name / "manifest.json").read_text(encoding="utf-8"))
    for _ in range(loads):
        t0 = time.perf_counter()
        m = Manifest.from_dict(raw)
        parse.append((time.perf_counter() - t0) * 1000)
        del m
print(json.dumps({"first": times[0], "load": statistics.median(times[1:] or times),
                  "parse": statistics.median(parse) if parse else None}))
"""


def build(store: Path, docs: Path, files: int) -> None:
    """The store: ``files`` text files of a few sentences, then a twentieth of them changed (a second segment)."""
    sys.path.insert(0, str(ROOT / "src"))
    from amqa.index.local.store import update_index

    rng = random.Random(0)
    words = [f"w{i}" for i in range(3000)]
    for i in range(files):
        sub = docs / f"d{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        text = " ".join(" ".join(rng.choices(words, k=12)).capitalize() + "." for _ in range(6))
        (sub / f"doc{i:05d}.txt").write_text(text, encoding="utf-8")
    update_index(docs, store, "hash")
    for path in sorted(docs.rglob("*.txt"))[::20]:
        path.write_text(path.read_text(encoding="utf-8") + " Changed once more.", encoding="utf-8")
    report = update_index(docs, store, "hash")
    assert len(report.changed) == len(range(0, files, 20)), report.summary()


def source_of(spec: str, work: Path) -> Path:
    """A folder of sources (``spec`` itself) or a git revision's ``src`` exported under ``work``."""
    if Path(spec).is_dir():
        return Path(spec)
    out = work / f"rev-{spec.replace('/', '_')}"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", spec, "src"], check=True, capture_output=True).stdout
    out.mkdir()
    tar = out / "src.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(out, filter="data")
    return out / "src"


def measure(src: Path, store: Path, loads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(store), str(loads)], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loads", type=int, default=15)
    parser.add_argument("--against", nargs="*", default=["/work/main/src"],
                        help="folders of sources or git revisions (default: /work/main/src)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="amqa-manifest-load-") as tmp:
        work = Path(tmp)
        build(work / "store", work / "docs", args.files)
        codes = {"this": ROOT / "src", **{spec: source_of(spec, work) for spec in args.against}}
        manifest = work / "store" / (work / "store" / "CURRENT").read_text().strip() / "manifest.json"
        print(f"{args.files} files, manifest {manifest.stat().st_size / 1e6:.1f} MB; "
              f"load_index medians of {args.loads} loads per process (ms)")
        rows: dict[str, list[dict]] = {name: [] for name in codes}
        for r in range(args.rounds):
            order = list(codes) if r % 2 == 0 else list(codes)[::-1]
            for name in order:
                rows[name].append(measure(codes[name], work / "store", args.loads))
            print(f"round {r + 1}: " + "  ".join(
                f"{name} {rows[name][-1]['load']:.1f}" for name in codes), flush=True)
        print(f"\n{'code':<24} {'load_index':>10} {'ratio':>6} {'first load':>10} {'from_dict':>9}")
        mine = statistics.median(x["load"] for x in rows["this"])
        for name in codes:
            load = statistics.median(x["load"] for x in rows[name])
            first = statistics.median(x["first"] for x in rows[name])
            parses = [x["parse"] for x in rows[name] if x["parse"] is not None]
            parse = f"{statistics.median(parses):9.1f}" if parses else f"{'-':>9}"
            print(f"{name:<24} {load:10.1f} {load / mine:6.2f} {first:10.1f} {parse}")


if __name__ == "__main__":
    main()
