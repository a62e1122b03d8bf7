"""What the check before each answer costs (prints numbers; not a test).

    python bench/refresh.py [--files 500] [--rounds 200]

An Engine looks at its folders before every question (sizes and modification times; a hash only for a
file whose size or time moved) and catches up when a file was added, changed or removed. This times
that check on the seeds and on a folder of small files: with nothing changed, with one file touched
(same content: hashed, not re-indexed), and against hashing every file (what the check did before).
The hash test embedder builds the indexes: the check never embeds, so the model does not matter.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, rounds: int) -> tuple[float, float]:
    """Median and 95th percentile of ``fn()``, in milliseconds."""
    runs = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    runs.sort()
    return statistics.median(runs), runs[int(0.95 * (len(runs) - 1))]


def hash_all(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            hashlib.sha256(path.read_bytes()).hexdigest()


def measure(name: str, docs: Path, store: Path, rounds: int) -> None:
    from amqa import Engine

    engine = Engine(docs, store, "hash", progress=False)
    engine.warm_up()
    loaded = engine.keeper.state()
    assert loaded is not None
    files = len(engine.manifest.files)
    size = sum(p.stat().st_size for p in docs.rglob("*") if p.is_file())
    time.sleep(2.1)  # past amqa.ingest.documents.RACY_NS: the files were just written
    engine.index()   # records the times as trusted
    quiet, quiet95 = timed(lambda: engine.keeper.changed(engine.keeper.state()), rounds)
    full, full95 = timed(lambda: hash_all(docs), rounds)
    first = sorted(p for p in docs.rglob("*") if p.is_file())[0]

    def touch_and_check() -> None:
        os.utime(first)
        assert not engine.keeper.changed(engine.keeper.state())

    touched, touched95 = timed(touch_and_check, rounds)
    answer, _ = timed(lambda: engine.answer("Combien d'entreprises compte le bassin de Montbéliard ?"), 20)
    print(f"{name}: {files} files, {size / 1000:.0f} KB")
    print(f"  check, nothing changed:       p50 {quiet:.2f} ms, p95 {quiet95:.2f} ms")
    print(f"  check, one file touched:      p50 {touched:.2f} ms, p95 {touched95:.2f} ms")
    print(f"  hashing every file (before):  p50 {full:.2f} ms, p95 {full95:.2f} ms")
    print(f"  a whole answer (hash embedder, check included): p50 {answer:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["AMQA_HOME"] = str(base / "home")
        seeds = base / "seeds"
        shutil.copytree(ROOT / "seeds", seeds)
        measure("seeds", seeds, base / "seeds-store", args.rounds)
        small = base / "small"
        small.mkdir()
        for i in range(args.files):  # about 600 bytes each, in 10 subfolders
            sub = small / f"part{i % 10}"
            sub.mkdir(exist_ok=True)
            (sub / f"note{i:04d}.txt").write_text(
                f"Note {i}. " + "Le campus de Cluny accueille des ateliers de fonderie et d'usinage. " * 9,
                encoding="utf-8")
        measure(f"{args.files} small files", small, base / "small-store", args.rounds)


if __name__ == "__main__":
    main()
