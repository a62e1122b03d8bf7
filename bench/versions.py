"""One benchmark script, two versions of the code, side by side in one run (prints numbers; not a test).

    python bench/versions.py --old f9d1bc4 --new f301df4 [--rounds 3] -- run.py [ARGS ...]
    python bench/versions.py --against f9d1bc4 [--rounds 3] -- scale.py --sizes 100000

Each version runs its OWN ``bench/SCRIPT`` with its OWN sources (the scripts follow the package
layout of their commit): a git revision of this repository is exported (``git archive``, the whole
tree) to a temporary folder; ``--against REV`` compares REV with this worktree as it is on disk.
Each run is ``python bench/SCRIPT ARGS`` in that tree with ``PYTHONPATH=<tree>/src``, in its own
process, the environment otherwise inherited (run the whole under ``nice`` and it is nice too).
The versions alternate, old first in odd rounds and new first in even ones, so that a change of the
machine's load hits both. A script that has a ``--json FILE`` option (scale.py) is given one and its
numbers read from it; otherwise the numbers it prints are read (run.py's lines by name, any other
script's as "the words before the number"). Each run's output is kept in ``--log DIR`` if given.
Prints each round's wall times and, at the end, one table: metric, old median, new median, new/old
(and the runs), the medians over the rounds. Ratios only mean something measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")

# run.py's lines (the same at f9d1bc4 and after the layout change): metric -> pattern of its value.
RUN_PY = [
    ("indexing: texts embedded", r"indexing: \d+ files, (\d+) texts"),
    ("indexing: index build median (s)", r"median of \d+: index ([\d.]+) s"),
    ("indexing: embedder alone median (s)", r"embedder alone on the same \d+ texts ([\d.]+) s"),
    ("indexing: index / embedder ratio", r"; ratio ([\d.]+)"),
    ("re-index unchanged folder (s)", r"re-index of an unchanged folder: ([\d.]+) s"),
    ("cold amqa ask median (s)", r"cold amqa ask: median ([\d.]+) s"),
    ("warm answer p50 (ms)", r"warm answer latency over \d+ answers: p50 ([\d.]+) ms"),
    ("warm answer p95 (ms)", r"warm answer latency over \d+ answers: p50 [\d.]+ ms, p95 ([\d.]+) ms"),
    ("peak RSS this process (MiB)", r"peak RSS: this process ([\d.]+) MiB"),
    ("peak RSS cold amqa ask (MiB)", r"peak RSS: this process [\d.]+ MiB; cold amqa ask ([\d.]+) MiB"),
]
PARSERS = {"run.py": RUN_PY}


def export(rev: str, work: Path) -> Path:
    """The whole tree of git revision ``rev`` of this repository, under ``work``."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", rev + "^{commit}"], check=True,
                         capture_output=True, text=True).stdout.strip()
    out = work / f"rev-{sha[:10]}"
    out.mkdir()
    tar = work / f"{sha[:10]}.tar"
    tar.write_bytes(subprocess.run(["git", "-C", str(ROOT), "archive", sha], check=True, capture_output=True).stdout)
    with tarfile.open(tar) as t:
        t.extractall(out, filter="data")
    tar.unlink()
    return out


def takes_json(script: Path) -> bool:
    return '"--json"' in script.read_text(encoding="utf-8")


def flatten(value, prefix: str = "") -> dict[str, float]:
    """The numbers of a JSON value, by path; a list of rows with a ``size`` is keyed by it."""
    out: dict[str, float] = {}
    if isinstance(value, bool) or value is None:
        return out
    if isinstance(value, (int, float)):
        if not (isinstance(value, float) and math.isnan(value)):
            out[prefix or "value"] = float(value)
        return out
    if isinstance(value, dict):
        for k, v in value.items():
            if not (k == "size" and prefix.startswith("size=")):
                out.update(flatten(v, f"{prefix} {k}".strip()))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            tag = f"size={v['size']}" if isinstance(v, dict) and "size" in v else f"[{i}]"
            out.update(flatten(v, f"{prefix} {tag}".strip()))
    return out


def parse_text(name: str, text: str) -> dict[str, float]:
    """The numbers a script printed: by its known patterns, else each number by the words before it."""
    out: dict[str, float] = {}
    if name in PARSERS:
        for metric, pattern in PARSERS[name]:
            m = re.search(pattern, text)
            if m:
                out[metric] = float(m.group(1))
        return out
    for line in text.splitlines():
        raw = line.split(":", 1)[0] if ":" in line else ""
        head = NUMBER.sub("#", raw).strip()
        prev = 0
        for m in NUMBER.finditer(line):
            start = len(raw) if prev == 0 and m.start() > len(raw) else prev
            words = re.sub(r"\s+", " ", line[start:m.start()]).strip(" :;,(=)")
            label = f"{head}: {words}".strip(" :") or "value"
            key, n = label, 2
            while key in out:
                key, n = f"{label} ({n})", n + 1
            out[key] = float(m.group())
            prev = m.end()
    return out


def run_once(tree: Path, script: str, args: list[str], log: Path | None, tag: str) -> tuple[dict[str, float], float]:
    path = tree / "bench" / script
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    with tempfile.TemporaryDirectory(prefix="amqa-versions-") as tmp:
        extra = ["--json", str(Path(tmp) / "out.json")] if takes_json(path) and "--json" not in args else []
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, str(path), *args, *extra], cwd=tree, env=env,
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if log is not None:
            (log / f"{tag}.out").write_text(done.stdout, encoding="utf-8")
            (log / f"{tag}.err").write_text(done.stderr, encoding="utf-8")
        if done.returncode != 0:
            raise SystemExit(f"{tag}: python bench/{script} failed ({done.returncode}) in {tree}:\n{done.stderr[-3000:]}")
        if extra:
            numbers = flatten(json.loads(Path(extra[1]).read_text(encoding="utf-8")))
        else:
            numbers = parse_text(script, done.stdout)
    if not numbers:
        raise SystemExit(f"{tag}: no number read from bench/{script}'s output:\n{done.stdout[-2000:]}")
    numbers["wall of the whole script (s)"] = wall
    return numbers, wall


def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--old", help="git revision of the old code")
    which.add_argument("--against", metavar="REV", help="git revision of the old code; the new is this worktree")
    parser.add_argument("--new", help="git revision of the new code (with --old)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--log", type=Path, help="keep each run's stdout/stderr in this folder")
    parser.add_argument("script", help="a script of bench/, e.g. run.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments (after --)")
    args = parser.parse_args()
    if args.old and not args.new:
        parser.error("--old needs --new (or use --against REV to compare with this worktree)")
    if args.against and args.new:
        parser.error("--against compares with this worktree: no --new")
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    script = args.script if args.script.endswith(".py") else args.script + ".py"
    script = Path(script).name
    rest = args.args[1:] if args.args[:1] == ["--"] else args.args
    if args.log:
        args.log.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="amqa-versions-trees-") as tmp:
        work = Path(tmp)
        old_name = args.old or args.against
        trees = {"old": export(old_name, work),
                 "new": export(args.new, work) if args.new else ROOT}
        names = {"old": old_name, "new": args.new or f"this worktree ({ROOT})"}
        for v in ("old", "new"):
            if not (trees[v] / "bench" / script).is_file():
                raise SystemExit(f"{names[v]} has no bench/{script}")
        print(f"{' '.join(['bench/' + script, *rest])}: old {names['old']}, new {names['new']}; {args.rounds} round(s), "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
        for r in range(args.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            walls = {}
            for v in order:
                numbers, walls[v] = run_once(trees[v], script, rest, args.log, f"round{r + 1}-{v}")
                runs[v].append(numbers)
            print(f"round {r + 1} ({order[0]} first): old {walls['old']:.1f} s, new {walls['new']:.1f} s, "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)

    metrics = list(dict.fromkeys(k for v in ("old", "new") for run in runs[v] for k in run))
    width = max(len(m) for m in metrics)
    print(f"\n{'metric':<{width}}  {'old':>9}  {'new':>9}  {'new/old':>7}   runs old | new")
    for m in metrics:
        values = {v: [run[m] for run in runs[v] if m in run] for v in ("old", "new")}
        med = {v: statistics.median(values[v]) if values[v] else None for v in values}
        ratio = (f"{med['new'] / med['old']:7.3f}" if med["old"] and med["new"] is not None else f"{'-':>7}")
        spread = " ".join(fmt(x) for x in values["old"]) + " | " + " ".join(fmt(x) for x in values["new"])
        print(f"{m:<{width}}  {fmt(med['old']):>9}  {fmt(med['new']):>9}  {ratio}   {spread}")


if __name__ == "__main__":
    main()
