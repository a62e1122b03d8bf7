"""The LLM verifier's support check on drafts the real models wrote, labelled by hand (issue 25).

    python eval/llm_support.py record --set FILE [--docs DIR --store DIR] --record FILE --json OUT
    python eval/llm_support.py replay --record FILE [--stores DIR] [--sets ...] [--before main] --out DIR
    python eval/llm_support.py dump --record FILE [--stores DIR] [--sets seeds followups debian ...] --out OUT.jsonl
    python eval/llm_support.py [--record FILE] [--stores DIR] [--labels eval/llm_drafts.jsonl]

``dump`` replays every question of the sets through the LLM writer with the replies recorded in FILE
(``--llm-record``: no LLM is asked; a prompt not recorded is a failure, not a request) and writes, per
question, the draft the model wrote and the passages it was given, sentence by sentence: what a
person reads to label each draft sentence (eval/llm_drafts.jsonl holds those labels).

The default command scores the support check against those labels: for each labelled sentence, whether
main's check (every number in the cited chunk, 60% of the words in it or a sentence close in meaning)
and amqa's attribution (one sentence, or a sentence with its neighbour, of any passage) call it supported,
against the label "supported" (the passages state the claim); precision and recall per set, and the
threshold chosen held out by set.

Sets: ``seeds`` (eval/questions.jsonl) and ``followups`` over the default documents and store; a
collection NAME (eval/NAME.jsonl, or ``NAME=FILE`` for a subset) over its fetched folder
(``python eval/collection.py fetch NAME``) and ``DIR/NAME-store`` with ``--stores DIR``.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from amqa import Engine
from amqa.errors import GeneratorError
from amqa.evaluation import EVAL_K, load_questions, replay
from amqa.text import normalize, split_sentences, tokenize
from amqa.types import Hit
from amqa.writers.llm import LLMWriter
from amqa.writers.llm.models import ChatModel, RecordedChat
from amqa.writers.llm.verification import Verifier

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))
import corpora  # noqa: E402

MAX_PASSAGES: int = LLMWriter.__init__.__kwdefaults__["max_passages"]  # what the LLM writer reads

SEEDS = {"seeds": "questions", "followups": "followups"}


class ReplayOnly(ChatModel):
    """A model that is never asked: under :class:`RecordedChat` a recorded prompt is replayed, any other fails."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = f"replay:{model}"

    def chat_stream(self, messages: list[dict]) -> Iterator[str]:
        raise GeneratorError("this prompt was not recorded")
        yield ""  # pragma: no cover (a generator)


@dataclass
class Capture(ChatModel):
    """``inner``'s replies, with the last writer prompt (one with sources) and its reply kept."""

    inner: ChatModel
    messages: list[dict] = field(default_factory=list)
    reply: str | None = None

    def __post_init__(self) -> None:
        self.id, self.model = self.inner.id, getattr(self.inner, "model", self.inner.id)
        self.deadline, self.max_reply_chars = self.inner.deadline, self.inner.max_reply_chars

    def chat_stream(self, messages: list[dict]) -> Iterator[str]:
        writer = "Sources:" in messages[-1]["content"]
        if writer:
            self.messages, self.reply = messages, None
        pieces = list(self.inner.reply_stream(messages))
        if writer:
            self.reply = "".join(pieces)
        yield from pieces


def engines(sets: list[str], stores: Path | None,
            generator: ChatModel | None = None) -> Iterator[tuple[str, Engine, list[dict]]]:
    """(set name, its engine writing with ``generator``, its questions) for each set named."""
    for spec in sets:
        name, _, file = spec.partition("=")
        if name in SEEDS:
            yield name, Engine(progress=False, generator=generator), \
                load_questions(file or ROOT / "eval" / f"{SEEDS[name]}.jsonl")
        else:
            store = stores / f"{name}-store" if stores is not None else None
            yield name, Engine(corpora.home() / name / "docs", store, progress=False, generator=generator), \
                load_questions(file or ROOT / "eval" / f"{name}.jsonl")


def drafts(record: Path, sets: list[str], stores: Path | None, model: str = "qwen1.5b") -> Iterator[dict]:
    """Each question's answer through the recorded LLM writer: the answer, the draft, the hits."""
    chat = Capture(RecordedChat(ReplayOnly(model), record))
    for name, engine, questions in engines(sets, stores, chat):
        for q in questions:
            history = replay(engine, q["history"]) if q["history"] else None
            chat.messages, chat.reply = [], None
            answer = engine.answer(q["question"], k=EVAL_K, history=history)
            yield {"set": name, "q": q, "answer": answer, "draft": chat.reply, "hits": answer.hits,
                   "messages": chat.messages, "engine": engine}


def passages(hits: tuple[Hit, ...]) -> list[dict]:
    """The numbered passages the model read, each split into sentences (document offsets)."""
    out = []
    for n, hit in enumerate(hits, 1):
        c = hit.chunk
        spans = split_sentences(c.text)
        out.append({"n": n, "source": c.source, "chunk_id": c.id, "language": c.language,
                    "sentences": [{"start": c.start + a, "end": c.start + b, "text": c.text[a:b]} for a, b in spans]})
    return out


def dump(args) -> None:
    with open(args.out, "w", encoding="utf-8") as f:
        for d in drafts(args.record, args.sets, args.stores):
            q, answer = d["q"], d["answer"]
            f.write(json.dumps({
                "id": q["id"], "set": d["set"], "question": q["question"], "language": q["language"],
                "answerable": q["answerable"], "cross_lingual": q["cross_lingual"], "gold": q["answer"],
                "key_facts": q["key_facts"], "gold_sources": q["sources"],
                "standalone_question": answer.standalone_question, "draft": d["draft"],
                "verification": answer.verification.value, "reason": answer.verification_reason,
                "answer": answer.text, "passages": passages(d["hits"][:MAX_PASSAGES]) if d["draft"] is not None else [],
            }, ensure_ascii=False) + "\n")


def record(args) -> None:
    """``amqa eval`` of one set with the LLM writer, its replies asked without streaming and recorded."""
    from amqa.evaluation import evaluate, format_report
    from amqa.writers.llm.models import OpenAIChat

    chat = RecordedChat(OpenAIChat(args.base_url, args.model, timeout=args.timeout, stream=False), args.record)
    engine = Engine(args.docs, args.store, progress=False, generator=chat)
    report = evaluate(engine, load_questions(args.set))
    print(format_report(report))
    Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")


def replay_eval(args) -> None:
    """Each set's evaluation from the recorded replies alone (no LLM), with this Verifier or, with
    ``--before REV``, REV's (the same prompts: what changed is the check); the eval JSON per set and a
    summary line per set: key facts, citation precision and recall, faithfulness, fallbacks and why."""
    from collections import Counter

    from amqa.evaluation import evaluate

    if args.before:
        import amqa.service.pipeline as pipeline
        import amqa.writers.llm as llm

        old = main_verifier_class(args.before)

        class Before(old):  # type: ignore[misc,valid-type]
            def check(self, reply, hits, language, abstain_text, question_vector, question=""):
                return super().check(reply, hits, language, abstain_text, question_vector)

        llm.Verifier = pipeline.Verifier = Before  # type: ignore[misc]
    chat = RecordedChat(ReplayOnly(args.model), args.record)
    print(f"{'set':<12} {'n':>3} {'key facts':>9} {'cit P':>6} {'cit R':>6} {'faith':>6} {'verified':>8} "
          f"{'abstained':>9} {'fallback':>8}  why")
    for name, engine, questions in engines(args.sets, args.stores, chat):
        report = evaluate(engine, questions)
        Path(args.out, f"{name}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        s, qs = report["summary"], report["questions"]
        why = Counter(_why(q["verification_reason"]) for q in qs if q["verification"] == "fallback")
        print(f"{name:<12} {len(qs):>3} {s['key_fact_recall']:>9.3f} {s['citation_precision']:>6.3f} "
              f"{s['citation_recall']:>6.3f} {s['faithfulness']:>6.3f} "
              f"{sum(q['verification'] == 'verified' for q in qs):>8} {sum(q['verification'] == 'abstained' for q in qs):>9} "
              f"{s['llm_fallbacks']:>8}  {dict(why)}")


def _why(reason: str) -> str:
    """A fallback reason without its counts."""
    import re

    return re.sub(r"\d+ of \d+ ", "", reason).split(";")[0][:60]


def main_verifier_class(revision: str):
    """The Verifier class of ``revision`` (main's, before amqa cited for the LLM)."""
    import subprocess
    import types

    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:src/amqa/writers/llm/verification.py"],
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType(f"verification_{revision}")
    sys.modules[module.__name__] = module  # its dataclasses look their module up
    exec(compile(source, f"{revision}:verification.py", "exec"), module.__dict__)
    return module.Verifier


def main_verifier(engine: Engine, revision: str):
    """The Verifier of ``revision``, with the engine's embedder and policy."""
    return main_verifier_class(revision)(engine.embedder, engine.policy)


def old_supported(verifier, claim: str, markers: list[int], hits) -> bool:
    """Main's per-sentence verdict: supported by the passages the sentence cites (none cited: not)."""
    cited = [(hits[n - 1].chunk, hits[n - 1].sentences) for n in markers if 1 <= n <= len(hits)]
    return bool(cited) and verifier.support(claim, cited, "") is not None


def windows(verifier: Verifier, claim: str, hits, language: str, names: bool = True,
            window: int = 0, question: str = "") -> list[tuple[float, float, bool]]:
    """(best dense similarity, share of words, holds the question's names) of every passage window
    holding the claim's numbers (and names): a threshold grid is then scored without embedding again."""
    from amqa.writers.llm import verification as v

    tokens = set(tokenize(claim, language))
    numbers = v.claim_numbers(claim)
    named = v.claim_names(claim) if names else set()
    subject = {n for n in named if n in normalize(question)}
    identifiers = (named - subject) & v.claim_names(claim, capitalised=False)
    vector = verifier.embedder.embed([claim], "query")[0]
    out = []
    for h in hits:
        chunk = h.chunk
        title = normalize(chunk.title)
        if not all(n in title or n in normalize(chunk.text) for n in subject):
            continue
        spans, sims, sentence_tokens = verifier._sentences(chunk, h.sentences, vector)
        wanted = (named - subject) if chunk.language == language else identifiers
        for i in range(len(spans)):
            for j in range(i, min(i + 1 + window, len(spans))):
                text = normalize(chunk.text[v._labelled(chunk, spans, i) - chunk.start:spans[j][1] - chunk.start])
                if not numbers <= set(v._NUMBER.findall(text)) or not all(n in text for n in wanted):
                    continue
                words = frozenset().union(*sentence_tokens[i:j + 1])
                out.append((float(max(sims[i:j + 1])),
                            len(tokens & words) / len(tokens) if len(tokens) >= v.MIN_WORDS else 0.0,
                            all(n in text or n in title for n in subject) and bool(numbers or named)))
    return out


MODES = ("main", "fail", "drop", "nosubject", "typed", "window1", "unanchored", "drop+typed")


def judge(d: dict, label: dict, engine: Engine, old, asked: str) -> dict:
    """One labelled draft checked by main's Verifier and by this one (failing, or dropping, unsupported
    sentences): accepted as a claim, and accepted with a shown sentence labelled unsupported or wrong."""
    import dataclasses

    from amqa.writers.extractive.sentences import frames

    answer = d["answer"]
    hits, lang = d["hits"][:MAX_PASSAGES], answer.language
    abstain_text = frames(lang)[1]
    vector = engine.embedder.embed([asked], "query")[0]
    by_text = {s["text"]: s for s in label["sentences"]}
    out = {"set": d["set"], "id": d["q"]["id"], "correct": label["draft_correct"] and not label["abstention"]}
    def variant(**changes) -> Verifier:
        return Verifier(engine.embedder, dataclasses.replace(engine.policy, **changes))

    for mode, checked in (("main", old.check(d["draft"], hits, lang, abstain_text, vector)),
                          ("fail", variant(drop_unsupported=False).check(d["draft"], hits, lang, abstain_text,
                                                                         vector, asked)),
                          ("drop", variant(drop_unsupported=True).check(d["draft"], hits, lang, abstain_text,
                                                                        vector, asked)),
                          ("nosubject", variant(support_subject=False).check(d["draft"], hits, lang, abstain_text,
                                                                             vector, asked)),
                          ("typed", variant(support_typed=True).check(d["draft"], hits, lang, abstain_text,
                                                                      vector, asked)),
                          ("window1", variant(support_window=1).check(d["draft"], hits, lang, abstain_text,
                                                                      vector, asked)),
                          ("unanchored", variant(support_anchored=False).check(d["draft"], hits, lang, abstain_text,
                                                                               vector, asked)),
                          ("drop+typed", variant(drop_unsupported=True, support_typed=True).check(
                              d["draft"], hits, lang, abstain_text, vector, asked))):
        accepted = checked.supported and not checked.abstained
        shown = [t for t in by_text if _shown(t, checked.text)]
        # Wrong: a shown sentence unsupported or not correct, or none of them the answer (only a side remark).
        wrong = accepted and (any(not by_text[t]["supported"] or by_text[t]["correct"] is False for t in shown)
                              or not any(by_text[t]["correct"] for t in shown))
        out[mode] = {"accepted": accepted, "wrong": wrong}
    return out


def _shown(claim: str, text: str) -> bool:
    """The labelled sentence is in the shown text (markers aside)."""
    import re

    strip = lambda x: re.sub(r"\W+", " ", re.sub(r"\[\d+\]", "", x)).strip().lower()  # noqa: E731
    return strip(claim) in strip(text)


def pr(pairs: list[tuple[bool, bool]]) -> tuple[float, float, int, int]:
    """Precision and recall of (predicted, label) pairs; and how many predicted and labelled."""
    tp = sum(p and y for p, y in pairs)
    predicted, labelled = sum(p for p, _ in pairs), sum(y for _, y in pairs)
    return (tp / predicted if predicted else 1.0), (tp / labelled if labelled else 1.0), predicted, labelled


DENSE_GRID = (0.82, 0.84, 0.85, 0.86, 0.87, 0.88, 0.90, 0.92, 1.01)
LEXICAL_GRID = (0.5, 0.6, 0.7, 0.8, 1.01)
MIN_PRECISION = 0.97  # a threshold must keep this precision on the other sets; then the best recall


def measure(args) -> None:
    labels = {(d["set"], d["id"]): d for d in map(json.loads, args.labels.read_text(encoding="utf-8").splitlines())}
    sets = sorted({s for s, _ in labels}, key=args.sets.index) if all(
        s in args.sets for s, _ in labels) else sorted({s for s, _ in labels})
    rows: list[dict] = []
    drafts_seen: list[dict] = []
    old = None
    for d in drafts(args.record, [s for s in args.sets if s.partition("=")[0] in sets], args.stores):
        label = labels.get((d["set"], d["q"]["id"]))
        if label is None or d["draft"] is None:
            continue
        if d["draft"] != label["draft"]:
            print(f"  {d['set']} {d['q']['id']}: the recorded draft is not the labelled one; skipped")
            continue
        engine = d["engine"]
        if old is None or old[0] is not engine:
            old = engine, main_verifier(engine, args.before)
        asked = d["answer"].standalone_question or d["q"]["question"]
        drafts_seen.append(judge(d, label, engine, old[1], asked))
        for s in label["sentences"]:
            claim = s["text"]
            rows.append({"set": d["set"], "id": d["q"]["id"], "supported": s["supported"],
                         "old": old_supported(old[1], claim, s["markers"], d["hits"][:MAX_PASSAGES]),
                         "new": engine.verifier.attribute(claim, d["hits"][:MAX_PASSAGES], d["answer"].language,
                                                          asked) is not None,
                         "grid": {w: windows(engine.verifier, claim, d["hits"][:MAX_PASSAGES], d["answer"].language,
                                             window=w, question=asked) for w in (0, 1)},
                         "nonames": windows(engine.verifier, claim, d["hits"][:MAX_PASSAGES], d["answer"].language,
                                            names=False)})
    print(f"{len(rows)} labelled sentences, {sum(r['supported'] for r in rows)} supported, "
          f"from {len({(r['set'], r['id']) for r in rows})} drafts")
    print(f"{'set':<12} {'n':>4} {'sup':>4}   main P / R        this P / R")
    for name in sets + ["all"]:
        rs = [r for r in rows if name in ("all", r["set"])]
        if not rs:
            continue
        po, ro, _, _ = pr([(r["old"], r["supported"]) for r in rs])
        pn, rn, _, _ = pr([(r["new"], r["supported"]) for r in rs])
        print(f"{name:<12} {len(rs):>4} {sum(r['supported'] for r in rs):>4}   {po:.3f} / {ro:.3f}     {pn:.3f} / {rn:.3f}")

    print("drafts (accepted: shown as the answer; wrong: a shown sentence labelled unsupported or not correct, or"
          " none labelled the answer; thrown away: a correct draft that fell back):")
    print("  accepted/wrong/thrown away, for main's check, this one (fail: an unsupported sentence fails the"
          " draft, the default), and variants of this one (drop: it is dropped)")
    print(f"{'set':<12} {'n':>3} {'ok':>3}   " + "".join(f"{m:>11}" for m in MODES))
    for name in sets + ["all"]:
        ds = [x for x in drafts_seen if name in ("all", x["set"])]
        if not ds:
            continue
        cells = []
        for mode in MODES:
            acc = sum(x[mode]["accepted"] for x in ds)
            wrong = sum(x[mode]["wrong"] for x in ds)
            lost = sum(x["correct"] and not x[mode]["accepted"] for x in ds)
            cells.append(f"{acc}/{wrong}/{lost}")
        if args.verbose and name == "all":
            for x in ds:
                print("    ", x["set"], x["id"], "correct" if x["correct"] else "-",
                      {m: ("acc" if x[m]["accepted"] else "-") + ("/WRONG" if x[m]["wrong"] else "")
                       for m in MODES})
        print(f"{name:<12} {len(ds):>3} {sum(x['correct'] for x in ds):>3}   " + "".join(f"{c:>11}" for c in cells))

    def verdicts(rs, key, dense, lexical):
        return [(any((dn >= dense and named) or lx >= lexical
                     for dn, lx, named in (r[key] if key == "nonames" else r["grid"][key])),
                 r["supported"]) for r in rs]

    for key in (0, 1, "nonames"):
        print(f"held out by set ({'window ' + str(key) if key != 'nonames' else 'window 0, names not required'};"
              f" thresholds with precision >= {MIN_PRECISION} on the other sets, then the best recall):")
        for name in sets:
            train = [r for r in rows if r["set"] != name]
            test = [r for r in rows if r["set"] == name]
            scored = []
            for dense in DENSE_GRID:
                for lexical in LEXICAL_GRID:
                    p, r, _, _ = pr(verdicts(train, key, dense, lexical))
                    scored.append((p >= MIN_PRECISION, r, p, dense, lexical))
            _, _, _, dense, lexical = max(scored)
            p, r, _, _ = pr(verdicts(test, key, dense, lexical))
            print(f"  {name:<12} dense {dense:.2f} lexical {lexical:.2f}: held-out P {p:.3f} R {r:.3f} (n {len(test)})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command")
    d = sub.add_parser("dump", help="the drafts and their passages, to label")
    d.add_argument("--out", required=True)
    e = sub.add_parser("replay", help="each set's evaluation from the recorded replies (no LLM)")
    e.add_argument("--out", required=True, help="a folder for each set's eval JSON")
    e.add_argument("--before", help="score with this revision's Verifier (e.g. main) instead")
    e.add_argument("--model", default="qwen1.5b")
    for q in (p, d, e):
        q.add_argument("--record", type=Path, default=Path.home() / ".cache/amqa/llm/records/qwen1.5b.jsonl",
                       help="the recorded replies (--llm-record FILE of the evaluation runs)")
        q.add_argument("--stores", type=Path, help="the collections' stores: DIR/NAME-store")
        q.add_argument("--sets", nargs="+", default=["seeds", "followups", "debian", "python", "libreoffice",
                                                     "manpages"])
    r = sub.add_parser("record", help="amqa eval with the LLM writer, replies not streamed, recorded")
    r.add_argument("--set", required=True)
    r.add_argument("--docs")
    r.add_argument("--store")
    r.add_argument("--base-url", default="http://127.0.0.1:8089/v1")
    r.add_argument("--model", default="qwen1.5b")
    r.add_argument("--timeout", type=float, default=180.0)
    r.add_argument("--record", type=Path, required=True)
    r.add_argument("--json", required=True)
    p.add_argument("--labels", type=Path, default=ROOT / "eval" / "llm_drafts.jsonl")
    p.add_argument("--verbose", action="store_true", help="each draft's verdicts")
    p.add_argument("--before", default="main", help="the revision whose Verifier is 'before' (default: main)")
    args = p.parse_args()
    if args.command == "dump":
        dump(args)
    elif args.command == "record":
        record(args)
    elif args.command == "replay":
        Path(args.out).mkdir(parents=True, exist_ok=True)
        replay_eval(args)
    else:
        measure(args)


if __name__ == "__main__":
    main()
