"""BM25 tokenising speed and output (prints numbers; not a test): run it with two versions of amqa on
PYTHONPATH and compare. The digest is the same when every token is the same.

    python bench/tokens.py [--rounds N]

Texts: the seeds cut into 900-character chunks every 300 characters (repeated 20 times), and the questions
of eval/*.jsonl; XQuAD's paragraphs too when /work/shared/external/xquad or ./xquad*.json holds them.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from amqa.text import detect_language, tokenize

    seeds = [open(f, encoding="utf-8").read() for f in sorted(glob.glob(str(ROOT / "seeds" / "*.txt")))]
    chunks = [t[i:i + 900] for t in seeds for i in range(0, len(t), 300)]
    questions = [json.loads(line)["question"] for f in sorted(glob.glob(str(ROOT / "eval" / "*.jsonl")))
                 for line in open(f, encoding="utf-8") if line.strip()]
    xquad = []
    for f in sorted(glob.glob(str(ROOT.parent / "shared" / "external" / "xquad" / "*.json")) + glob.glob("xquad*.json")):
        xquad += [p["context"] for a in json.load(open(f, encoding="utf-8"))["data"] for p in a["paragraphs"]]
    for name, texts in (("seeds chunks x20", chunks * 20), ("eval questions", questions), ("xquad paragraphs", xquad)):
        if not texts:
            continue
        digest = hashlib.sha256()
        for t in texts[:len(texts) // 20 if name.endswith("x20") else None]:
            lang = detect_language(t)
            digest.update(f"{lang}|{' '.join(tokenize(t, lang))}\n".encode())
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for t in texts:
                tokenize(t, "fr")
            times.append(time.perf_counter() - t0)
        chars = sum(map(len, texts))
        print(f"{name:<18} {len(texts):>6} texts, {chars / 1e6:.2f} M chars: median {statistics.median(times):.3f} s "
              f"({chars / statistics.median(times) / 1e6:.2f} M chars/s); languages+tokens digest {digest.hexdigest()[:16]}")


if __name__ == "__main__":
    main()
