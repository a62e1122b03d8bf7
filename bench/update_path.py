"""Adding and removing one file in a large index, this code against a git revision (prints numbers; not a test).

    python bench/update_path.py --against f9d1bc4 [--chunks 100000] [--rounds 3] [--repeats 4]

``bench/scale.py`` times one add and one remove per run, after its questions, so a round-to-round
spread of 20-30% on 2 shared cores hides a 50 ms difference. Here each code (this worktree's ``src``
and the revision's, exported with ``git archive``) builds its own store of the same generated folder
(``scale.generate``: files of ~10 chunks, the hash embedder; ~3 min each at 100k chunks), then in
alternated rounds, each in its own process: the folder checked once, then ``--repeats`` times one file
added and removed again (``Engine.index()`` each time: scan, plan, write, publish, load). Prints each
round's medians and, at the end, the medians of all the adds and removes with the ratio to this code.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs under each code's own src (PYTHONPATH): only `amqa.Engine`, which both layouts export.
CHILD = r"""
import json, sys, time
from pathlib import Path
from amqa import Engine
docs, store, repeats = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
engine = Engine(docs, store, embedder="hash")
t0 = time.perf_counter()
engine.index()
built = time.perf_counter() - t0
time.sleep(2.2)  # past the racy window: the files' times are trusted
engine.index()
new = docs / "added" / "one.txt"
new.parent.mkdir(exist_ok=True)
adds, removes = [], []
for _ in range(repeats):
    new.write_text("The kalotor foundry of Cluny opened a machining workshop in 2027. " * 20, encoding="utf-8")
    t0 = time.perf_counter()
    engine.index()
    adds.append(time.perf_counter() - t0)
    new.unlink()
    t0 = time.perf_counter()
    engine.index()
    removes.append(time.perf_counter() - t0)
print(json.dumps({"built": built, "adds": adds, "removes": removes}))
"""


def export(rev: str, work: Path) -> Path:
    """The revision's ``src``, exported under ``work``."""
    out = work / f"rev-{rev}"
    out.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src", "seeds"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out / "src"


def run(src: Path, docs: Path, store: Path, repeats: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(docs), str(store), str(repeats)], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, help="a git revision of this repository")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from scale import generate

    with tempfile.TemporaryDirectory(prefix="amqa-update-path-") as tmp:
        work = Path(tmp)
        codes = {"this": ROOT / "src", args.against: export(args.against, work)}
        runs: dict[str, list[dict]] = {name: [] for name in codes}
        for name in codes:  # each code its own copy of the same folder, and its own store
            generate(work / f"docs-{name}", args.chunks)
        for r in range(args.rounds):
            order = list(codes) if r % 2 == 0 else list(codes)[::-1]
            for name in order:
                runs[name].append(run(codes[name], work / f"docs-{name}", work / f"store-{name}", args.repeats))
            print(f"round {r + 1}: " + "  ".join(
                f"{name} add {statistics.median(runs[name][-1]['adds']):.3f} s remove "
                f"{statistics.median(runs[name][-1]['removes']):.3f} s" for name in codes), flush=True)
        print(f"\n{args.chunks} chunks; medians of {args.rounds * args.repeats} adds and removes each")
        print(f"{'code':<12} {'first build s':>13} {'add one s':>10} {'ratio':>6} {'remove one s':>12} {'ratio':>6}")
        base = {k: statistics.median(x for run_ in runs["this"] for x in run_[k]) for k in ("adds", "removes")}
        for name in codes:
            add = statistics.median(x for run_ in runs[name] for x in run_["adds"])
            remove = statistics.median(x for run_ in runs[name] for x in run_["removes"])
            print(f"{name:<12} {runs[name][0]['built']:13.1f} {add:10.3f} {add / base['adds']:6.2f} "
                  f"{remove:12.3f} {remove / base['removes']:6.2f}")


if __name__ == "__main__":
    main()
