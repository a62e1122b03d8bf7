"""Language detection, sentence splitting and lexical normalisation for French and English.

>>> detect_language("Combien d'apprentis sont formés ?")
'fr'
>>> [text[s:e] for text in ["M. Dupont arrive. Il pleut."] for s, e in split_sentences(text)]
['M. Dupont arrive.', 'Il pleut.']
>>> normalize("L'École forme 6 000 élèves")
"l'ecole forme 6000 eleves"
"""
from __future__ import annotations

import re
import threading
import unicodedata

# Small closed-class word lists: enough to tell the languages apart on a question.
_STOPWORDS = {
    "en": """a about after all also an and any are as at be been but by can did do does for from
        had has have he her his how i if in into is it its many may more most much not of on or
        our she should so than that the their them there these they this to was we were what when
        where which while who whom why will with would you year years""",
    "fr": """a afin ai au aux avec ce ces cette combien comme comment d dans de des du elle elles
        en est et été être il ils je l la le les leur leurs lui mais même ne nous on ont ou où par
        pas pour quand que quel quelle quelles quels qui sa se ses son sont sur un une vous y
        année années c qu n s j depuis chaque""",
    "es": """al como con cual cuál cuando cuándo cuántos cuántas cuánto de del donde dónde el en
        es esta este fue la las lo los para por qué que quién se son su sus un una y""",
    "de": """als am auf aus bei das dem den der des die ein eine einer es für hat ich ist mit
        nach nicht sich sie sind und von war was welche welcher welches wer wie wo zu zum zur""",
}
STOPWORDS = {lang: frozenset(words.split()) for lang, words in _STOPWORDS.items()}
_ALL_STOPWORDS = frozenset().union(*STOPWORDS.values())

_WORD = re.compile(r"\w+", re.UNICODE)
# French elision: l'école, d'ingénieurs, qu'il, jusqu'à (straight and curly apostrophes).
_ELISION = re.compile(r"\b(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
# Digit grouping: 6 000, 6 000 (narrow no-break space), 1,600, 59.000 -> 6000, 1600, 59000.
_DIGIT_GROUP = re.compile(r"(?<=\d)[ \u00a0\u202f,.](?=\d{3}(?!\d))")


def detect_language(text: str) -> str:
    """Guess ``'fr'``, ``'en'``, ``'es'`` or ``'de'`` from stopwords and accents (``'en'`` if unsure)."""
    words = [w.lower() for w in _WORD.findall(_ELISION.sub(lambda m: m.group(0)[:-1] + " ", text))]
    if not words:
        return "en"
    scores: dict[str, float] = {lang: sum(w in sw for w in words) for lang, sw in STOPWORDS.items()}
    # French-only marks break ties on short questions ("Où se trouve ... ?").
    scores["fr"] += 0.5 * len(re.findall(r"[àâçèêëîïôûùœ]|['’]\w", text.lower()))
    scores["es"] += 1.0 * len(re.findall(r"[ñ¿¡]", text))
    scores["de"] += 1.0 * len(re.findall(r"[äöüß]", text.lower()))
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    return best if scores[best] > 0 else "en"


def fold_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalize(text: str) -> str:
    """Lower case, accents folded, digit groups joined, curly apostrophes and spaces unified.

    Used to compare an answer with a key fact, and a quoted sentence with its source.
    """
    text = _DIGIT_GROUP.sub("", text)
    text = fold_accents(text.lower()).replace("’", "'").replace("‘", "'")
    return re.sub(r"\s+", " ", text).strip()


_local = threading.local()


def _stemmer(lang: str):
    """A Snowball stemmer (PyStemmer, C speed) per thread and language: its objects are not to be
    shared between threads, and an Engine answers from several."""
    stemmers = _local.__dict__.setdefault("stemmers", {})
    if lang not in stemmers:
        import Stemmer

        name = {"fr": "french", "en": "english", "es": "spanish", "de": "german"}.get(lang, "english")
        stemmers[lang] = Stemmer.Stemmer(name)
    return stemmers[lang]


def tokenize(text: str, language: str = "en") -> list[str]:
    """BM25 tokens: elision stripped, stopwords of every language removed, Snowball-stemmed, accents folded.

    >>> tokenize("L'école d'ingénieurs forme 6 000 élèves", "fr")
    ['ecol', 'ingenieur', 'form', '6000', 'elev']
    """
    text = _DIGIT_GROUP.sub("", text.lower())
    text = _ELISION.sub(" ", text)
    words = [w for w in _WORD.findall(text) if w not in _ALL_STOPWORDS and (len(w) > 1 or w.isdigit())]
    return [fold_accents(w) for w in _stemmer(language).stemWords(words)]


# --- sentences -------------------------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    """m mm mme mmes mlle dr pr prof st ste me mgr cf etc ex p pp vol no n° nº art ch chap fig
    env av bd boul éd ed réf ref tél tel vs mr mrs ms jr sr inc ltd co corp dept univ approx
    jan fév fev févr janv avr juil sept oct nov déc dec e.g i.e""".split()
)
# A sentence ends at . ! ? … (plus closing quotes/brackets) before white space, or at a line break.
_BOUNDARY = re.compile(r"[.!?…]+(?:[ \u00a0\u202f]?[»”\"’')\]])*(?=\s)|\n")
_OPENERS = "«“\"‘'(["


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text[start:end]``, in ``text`` offsets, white space trimmed.

    Knows French and English abbreviations (``M.``, ``Dr.``, ``etc.``), initials (``J. Dupont``),
    numbers (``6.000``, ``1,600``: no white space after the mark, so no break) and guillemets
    (a closing ``»`` stays with its sentence).
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cut = start
    for m in _BOUNDARY.finditer(text, start, end):
        stop = m.end()
        if m.group() != "\n" and not _is_sentence_end(text, m.start(), stop, end):
            continue
        _append_trimmed(text, cut, stop, spans)
        cut = stop
    _append_trimmed(text, cut, end, spans)
    return spans


def _is_sentence_end(text: str, mark: int, stop: int, end: int) -> bool:
    if text[mark] == ".":
        word = re.search(r"([\w°.]+)$", text[max(0, mark - 12):mark])
        token = word.group(1).lower() if word else ""
        if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
            return False
    nxt = re.match(r"\s*(\S)", text[stop:min(end, stop + 20)])
    if nxt is None:
        return True
    ch = nxt.group(1)
    # "etc. et", "p. 12" and the like go on; a new sentence starts with a capital, digit or quote.
    return ch.isupper() or ch.isdigit() or ch in _OPENERS or ch in "-–—•"


def _append_trimmed(text: str, a: int, b: int, spans: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a:
        spans.append((a, b))
