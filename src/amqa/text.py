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
from bisect import bisect_left
from dataclasses import dataclass

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
    # An ASCII word has no accent to fold: skipping the Unicode normalisation for it (most words) made
    # tokenising the seeds 1.6x faster (0.101 -> 0.063 s for 100 files), with the same tokens.
    return [w if w.isascii() else fold_accents(w) for w in _stemmer(language).stemWords(words)]


# --- sentences -------------------------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    """m mm mme mmes mlle dr pr prof st ste me mgr cf etc ex p pp vol no n° nº art ch chap fig
    env av bd boul éd ed réf ref tél tel vs mr mrs ms jr sr inc ltd co corp dept univ approx
    jan fév fev févr janv avr juil sept oct nov déc dec e.g i.e""".split()
)
# A sentence ends at . ! ? … (plus closing quotes/brackets) before white space, or at a line break.
# A match starts only at the first mark of a run: tried from each mark, a run of n marks with no
# white space after it cost n²/2 steps (20,000 dots took 24 s to split, issue 22); the matches are
# the same, since a match from inside a run ends where one from its start would.
_BOUNDARY = re.compile(r"(?<![.!?…])[.!?…]+(?:[ \u00a0\u202f]?[»”\"’')\]])*(?=\s)|\n")
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
    # From the middle of a text, its part is searched alone: the pattern's look-behind sees nothing before it.
    part, shift = (text, 0) if not start else (text[start:end], start)
    for m in _BOUNDARY.finditer(part, start - shift, end - shift):
        stop = m.end() + shift
        if m.group() != "\n" and not _is_sentence_end(text, m.start() + shift, stop, end):
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


# --- readable quotes -------------------------------------------------------------------------

@dataclass(frozen=True)
class Readable:
    """A text as a reader sees it (:func:`readable`), and where each of its characters comes from:
    ``text[i] == original[kept[i]]``."""

    text: str
    kept: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of ``text`` that holds what is left of ``original[start:end]`` (empty when
        nothing is left of it)."""
        return bisect_left(self.kept, start), bisect_left(self.kept, end)

    def __str__(self) -> str:
        return self.text


# Each pattern finds syntax to delete; its groups (or the whole match when it has none) are deleted.
# Nothing inside a code span is touched, and its backticks stay: in a shell command they are syntax
# (eval "`dircolors -b`"), and the Debian Reference writes "`chroot`ed".
_CODE_SPAN = re.compile(r"`+(?=[^`\n])[^\n]*?[^`\n]`+")
_IMAGE = re.compile(r"[ \t]?!\[[^\]\n]*\]\([^)\n]*\)")
_LINK = re.compile(r"(\[)(?!\s)(?:!\[[^\]\n]*\]\([^)\n]*\)|[^\]\n])+(\]\((?:[^()\s]|\([^()\s]*\))*(?:[ \t]+\"[^\"\n]*\")?\))")
# A link definition needs a URL or a path after its colon: "[smtp.hostname.dom]:587 user:pass" stays.
# (Reference links, "[texte][1]", are left alone: in commands they are character classes, "[ugoa][+-=]".)
_REF_DEFINITION = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]+<?(?:[a-zA-Z][\w+.-]*://|/|#|\./)[^\n]*(?:\n|$)", re.MULTILINE)
_AUTOLINK = re.compile(r"(<)(?:https?|ftp|mailto):[^>\s]+(>)")
# "## Titre" anywhere (no line of the Debian Reference starts so); "# Titre" only in Markdown: in the
# Debian Reference (PDF and HTML) 170 lines start with "# ", root prompts ("# apt-get update") and
# comments in code ("# Check size of archive"), none a heading.
_HEADING = re.compile(r"^([ \t]{0,3}#{2,6}[ \t]+)[^\n]*?([ \t]+#+)?[ \t]*$", re.MULTILINE)
_MARKDOWN_TITLE = re.compile(r"^([ \t]{0,3}#[ \t]+)[^\n]*?([ \t]+#+)?[ \t]*$", re.MULTILINE)
# Emphasis with * when it hugs a word on both sides (globs such as "linux-doc-*/" and "/*" stay);
# with _ only around words with a space between ("__init__" and "file_name_" stay).
_STAR_EMPHASIS = re.compile(r"(?<![\w*\\])(\*{1,3})(?=[^\W_])[^\n*]*?(?<=[\w.!?:;)»”\"'’])(\1)(?![\w*])")
_UNDERSCORE_EMPHASIS = re.compile(r"(?<![\w\\])(_{1,2})(?=[^\W_])[^\n_]*?\s[^\n_]*?(?<=[^\W_]|[.!?)])(\1)(?!\w)")
# Image credits: "... micromécanique. // © ENSMM/P1br", "... fin. © AFP", a line "Crédit photo : X".
# (Press sites put no-break spaces around the ©.)
_CREDIT_TRAILER = re.compile(r"[ \t\xa0\u202f]*(?<![:/])//[ \t\xa0\u202f]*(?:©|\([cC]\)|[Cc]r[ée]dits?\b|[Pp]hotos?\b)[^\n]*"
                             r"|(?<=[.!?»”\"])[ \t\xa0\u202f]+©[^\n.!?]{0,80}$", re.MULTILINE)
_CREDIT_LINE = re.compile(r"^(?![^\n]* \| )[ \t\xa0]*(?:©|\([cC]\)[ \t]|(?:[Cc]r[ée]dits?|[Pp]hoto|[Ii]mage)(?:[ \t\xa0]+\w+)?"
                          r"[ \t\xa0\u202f]*:)[^\n]{0,80}(?:\n|$)", re.MULTILINE)
_RULES = (_IMAGE, _LINK, _REF_DEFINITION, _AUTOLINK, _HEADING, _STAR_EMPHASIS, _UNDERSCORE_EMPHASIS,
          _CREDIT_TRAILER, _CREDIT_LINE)
#: Files whose quotes lose a first-level "# " heading too (:func:`readable`'s ``markdown``).
MARKDOWN_SUFFIXES = (".md", ".markdown")


def readable(text: str, markdown: bool = False) -> Readable:
    r"""``text`` without the syntax a reader should not see: Markdown emphasis markers, ``##`` headings
    (and ``#`` ones when ``markdown``: elsewhere "# " starts a root prompt or a comment), link targets
    (``[texte](url)`` reads ``texte``; an image ``![alt](url)`` and a link definition go whole), and
    image credits (``// © ENSMM/P1br``, ``Crédit photo : ...``). Only characters are removed, never
    changed, so :attr:`Readable.kept` maps every kept character back to ``text``; a text with nothing
    to remove comes back as it is.

    >>> readable("Voir **le guide** sur [le site du projet](https://exemple.org/doc).").text
    'Voir le guide sur le site du projet.'
    >>> readable("## Installer ![logo](logo.png) `**/*.py`\n*Vite* : # apt-get update").text
    'Installer `**/*.py`\nVite : # apt-get update'
    >>> readable("# Présentation", markdown=True).text, readable("# Check size of archive").text
    ('Présentation', '# Check size of archive')
    >>> readable("À Besançon, l'ENSMM forme 900 élèves ingénieurs. //\xa0©\xa0 ENSMM/P1br").text
    "À Besançon, l'ENSMM forme 900 élèves ingénieurs."
    >>> r = readable("Ouvert en **2027** ici.")
    >>> r.text[slice(*r.span(12, 16))]
    '2027'
    """
    deleted = bytearray(len(text))  # 1 where a character goes
    protected = bytearray(len(text))  # inside a code span: left alone

    def delete(a: int, b: int) -> None:
        deleted[a:b] = b"\x01" * (b - a)

    for m in _CODE_SPAN.finditer(text):
        protected[m.start():m.end()] = b"\x01" * (m.end() - m.start())
    for rule in _RULES + ((_MARKDOWN_TITLE,) if markdown else ()):
        for m in rule.finditer(text):
            spans = [m.span(g) for g in range(1, rule.groups + 1) if m.start(g) >= 0] or [m.span()]
            if not any(any(protected[a:b]) for a, b in spans):
                for a, b in spans:
                    delete(a, b)
    if not any(deleted):
        return Readable(text, tuple(range(len(text))))
    kept = [i for i in range(len(text)) if not deleted[i]]
    # A removal leaves no doubled space, no space before a line end, and nothing blank at either end.
    tidy: list[int] = []
    for n, i in enumerate(kept):
        ch = text[i]
        if ch in " \t\xa0" and (not tidy or text[tidy[-1]] in " \t\xa0\n" or n + 1 == len(kept)
                                or text[kept[n + 1]] == "\n"):
            continue
        if ch == "\n" and (not tidy or text[tidy[-1]] == "\n" and n + 1 < len(kept) and text[kept[n + 1]] == "\n"):
            continue
        tidy.append(i)
    while tidy and text[tidy[-1]].isspace():
        tidy.pop()
    return Readable("".join(text[i] for i in tidy), tuple(tidy))


_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (invalid UTF-8 from a terminal, or a program's bad string), which
    no encoder accepts, replaced by U+FFFD.

    >>> clean_text("caf\\udce9") == "caf\\ufffd"
    True
    """
    return _SURROGATES.sub("\ufffd", text)
