"""The offline answer writer: extractive and grounded, no LLM.

From the retrieved chunks it picks the one to three sentences that best answer the question (and a
fourth from the best one's file when it holds words of the question they lack) and quotes them,
each followed by its ``[n]`` marker, with the words that answer marked. Nothing is paraphrased, so
nothing is invented; only the framing words are amqa's, in the question's language.
The outcome (:class:`~amqa.types.Outcome`) is "answered", "related passages only" (the policy's
``answer_above``, off by default: see eval/README.md) or "nothing found" when the best evidence is
too weak (then nothing is cited).
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from amqa.errors import InvalidInputError
from amqa.text import normalize, tokenize
from amqa.types import Answer, Chunk, Citation, Outcome, SearchResult
from amqa.writers.policy import AnswerPolicy


@dataclass(frozen=True, kw_only=True)
class WriterConfig:
    """The extractive writer's tunables, calibrated on eval/questions.jsonl, the follow-ups, the Debian
    Reference and XQuAD (eval/README.md, "Tuning" and "Tuning on three sets"; eval/tune_writer.py measures
    other values on every set at once: ``python eval/tune_writer.py cover_margin=0.08``).

    A sentence's score (:func:`hand_score`) is its cosine similarity to the question, plus a little for
    the question's rare words it contains (``lexical_weight``), plus ``answer_type_bonus`` when the
    question asks for a date, a quantity, a person, a place, a file, a command or a formula and the
    sentence holds one (answer typing, as in classic factoid QA), minus ``headline_penalty`` for a short
    line without final punctuation (a title, not a fact). Abstention is the AnswerPolicy's
    (``abstain_below``, ``abstain_unmatched_below``: model-specific scales).
    """

    #: Re-measured at 0.15: seeds key facts 0.851 (follow-ups 0.750), an off-topic Debian question answered
    #: (eval/README.md, "Tuning on three sets").
    lexical_weight: float = 0.10
    answer_type_bonus: float = 0.02
    headline_penalty: float = 0.06
    #: A path or a command line is found precisely (a name is just capitals), so its bonus is larger:
    #: Debian key facts 0.607 -> 0.643 with 0.04, seeds unchanged (0.02 for every type: seeds 0.851 at 0.04).
    code_type_bonus: float = 0.04
    #: A sentence whose neighbour holds the asked type is quoted with it (widen), so it earns half the typed
    #: bonus: follow-up key facts 0.833 -> 0.875, Debian 0.750 -> 0.768, XQuAD en/en answers 0.904 -> 0.905,
    #: seeds and es/en unchanged (0.005: follow-ups unchanged; 0.015: en/en answers 0.903, es/en first citation
    #: 0.893; 0.02: follow-ups 0.833, en/en 0.903, es/en 0.892; eval/README.md, "Tuning on three sets").
    neighbour_type_bonus: float = 0.01
    #: More sentences are quoted when they score nearly as well as the best one: within
    #: same_source_margin from the best sentence's file (retrieval finds the right passage far more often
    #: than sentence scoring finds the right sentence in it), within second_sentence_margin from others;
    #: max_sentences in all (then the covering quote may add one).
    second_sentence_margin: float = 0.03
    same_source_margin: float = 0.06
    #: Re-measured at 4: seeds key facts 0.895, citation precision 0.859 -> 0.813 (eval/README.md, "Tuning
    #: on three sets").
    max_sentences: int = 3
    #: Then one more quote from the best sentence's file when it holds words of the question no quote holds
    #: yet (`cover`): key facts seeds 0.877 -> 0.895, Debian 0.821 -> 0.875, follow-ups unchanged at 0.875;
    #: XQuAD answers holding a gold string en/en 0.905 -> 0.924, es/en 0.882 -> 0.887; quotes per answer seeds
    #: 2.06 -> 2.16, Debian 2.51 -> 2.86, XQuAD en/en 1.55 -> 1.65. Within 0.10 of the best score (0.08: Debian
    #: 0.857, en/en 0.918; 0.15: en/en 0.929 for 1.70 quotes, the rest as 0.10); new words worth at least 0.05
    #: of the question's (0.01: as 0.05; 0.08: seeds 0.877, Debian 0.857). Quoting it instead of the third
    #: quote lost a Debian answer held by that third quote (eval/README.md, "Tuning on three sets").
    #: A negative cover_margin quotes no such sentence (eval/README.md's runs without the rule: -1).
    cover_margin: float = 0.10
    cover_min_gain: float = 0.05
    #: Sentences are taken from this many top hits. Re-measured at 5 / 6: seeds key facts 0.842 / 0.833,
    #: follow-ups' citation precision 0.808 -> 0.759 / 0.688 (eval/README.md, "Tuning on three sets").
    search_depth: int = 4
    #: Words marked in a quote, at most (:func:`answer_marks`).
    max_marks: int = 3
    #: Subtracted from a code-shaped sentence (:func:`code_shaped`) when the question does not ask for
    #: code (:func:`asks_for_code`): feature ``code_unasked``. And when the question does not ask for code
    #: and every chosen quote is code-shaped, the quotes are shown as related passages, not as an answer
    #: (``code_alone_related``): a configuration line that merely shares a name with a prose question is
    #: not its answer. Chosen held out by collection (python eval/tune_writer.py --stores DIR, eval/README.md
    #: "Held out by collection"): 0.02 with the rule was chosen for debian, python and manpages, 0.01 for
    #: libreoffice; held-out mean objective 1.394 -> 1.395, key facts 0.551 -> 0.553, off-topic answered
    #: 0.542 -> 0.500; seeds, follow-ups and XQuAD (1190: en/en 0.953 / 0.924) unchanged. 0.03-0.06 lost a Debian key fact (1.768 -> 1.750).
    code_penalty: float = 0.02
    code_alone_related: bool = True

    def __post_init__(self) -> None:
        for name in ("lexical_weight", "answer_type_bonus", "headline_penalty", "code_type_bonus",
                     "neighbour_type_bonus", "cover_min_gain", "code_penalty"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise InvalidInputError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("second_sentence_margin", "same_source_margin", "cover_margin"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
        if not isinstance(self.code_alone_related, bool):
            raise InvalidInputError(f"code_alone_related must be True or False, got {self.code_alone_related!r}")
        for name, least in (("max_sentences", 1), ("search_depth", 1), ("max_marks", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InvalidInputError(f"{name} must be a whole number >= {least}, got {value!r}")


_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|"
           "décembre|decembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|"
           "noviembre|diciembre|januar|februar|märz|juni|juli|oktober|dezember")
_PLACE_NOUNS = "city|town|country|region|ville|pays|région|ciudad|país|región|stadt|land"
# (what the question asks for, how a sentence shows it holds one); French, English, Spanish, German.
ANSWER_TYPES: dict[str, tuple[re.Pattern, re.Pattern]] = {
    "date": (
        re.compile(r"\b(when|what year|which year|what date|since when|quand|depuis quand|en quelle année|"
                   r"à quelle date|quel jour|cuándo|en qué año|desde cuándo|wann|in welchem jahr|seit wann)\b",
                   re.IGNORECASE),
        re.compile(rf"\b(1[5-9]\d\d|20\d\d|{_MONTHS})\b", re.IGNORECASE),
    ),
    "quantity": (
        re.compile(r"\b(how many|how much|combien|quel(?:le)? est le (?:montant|budget|nombre)|"
                   r"what (?:share|proportion|percentage|fraction)|quel(?:le)? (?:part|proportion|pourcentage)|"
                   r"what is the (?:amount|budget|number)|cuánt[oa]s?|wie viele?|"
                   # values asked by name: a port, a size, a version, a value...
                   r"(?:which|what)(?: \w+)? (?:port|size|version|value|number|limit)|"
                   r"quel(?:le)?(?: \w+)? (?:port|taille|version|valeur|numéro|nombre|limite))\b", re.IGNORECASE),
        re.compile(r"\d"),
    ),
    "person": (
        re.compile(r"^\s*(who|qui|quién|wer)\b|\b(who|qui) (is|est|dirige|a sign)", re.IGNORECASE),
        re.compile(r"\b[A-Z][a-zà-ÿ]+(?: [A-Z][a-zà-ÿ]+){1,2}\b"),
    ),
    # Files and commands come before places: "where is the file ..." asks for a path.
    "path": (
        # "Which file ...", "Dans quel répertoire ...", not "the largest file".
        re.compile(r"\b(?:(?:which|what|quel(?:le)?s?|qué|cuál|welche[rsmn]?)(?: \w+){0,2}|(?:where|où)(?: \w+){0,3})"
                   r" (?:files?|fichiers?|"
                   r"director(?:y|ies)|répertoires?|dossiers?|folders?|archivos?|dateien?|verzeichnis)\b", re.IGNORECASE),
        re.compile(r"(?<![\w/])(?:~|\.{1,2})?/[\w.+-]+(?:/[\w.*+-]*)*|\b[\w-]+\.(?:conf|cfg|list|ini|rc|sh|d)\b"),
    ),
    "command": (
        # Not "program" or "tool": in general prose they are TV programmes and stratigraphers' tools.
        re.compile(r"\b(commands?|commandes?|comandos?|befehle?|packages?|paquets?|paquetes?|pakete?)\b", re.IGNORECASE),
        re.compile(r"^\s*[$#]\s+\S|\b[a-z][a-z0-9]*(?:-[a-z0-9]+)+\b|\s-{1,2}[a-z][\w-]*"),
    ),
    "place": (
        re.compile(rf"^\s*(where|où|dónde|wo)\b|\b(in which|in what|dans quel(?:le)?|en qué|in welche[rm]?)(?: \w+)? "
                   rf"({_PLACE_NOUNS})\b", re.IGNORECASE),
        re.compile(r"\b(in|at|near|à|au|aux|dans|en|bei|im)\s+(?:the |la |le |l[’']|el )?[A-ZÀ-Ý][\w-]+"),
    ),
    # "How is the MSS computed from the MTU?": an equation ("MSS = MTU - 40 pour IPv4"). One question of the
    # sets asks for one (Debian key facts 0.804 -> 0.821); no seeds, follow-up or XQuAD question is typed so.
    # Last, so that "Who won the Formula One title?" still asks for a person; "computed" as the question's
    # verb, not an adjective ("How are computed columns stored?").
    "formula": (
        re.compile(r"\bhow (?:is|are|do|does|to)\b(?: [\w-]+){0,8}? (?:(?:computed|calculated|derived)"
                   r"(?= ?\?| from| for| in| by| with| using| when| if| on|$)|(?:compute|calculate|derive)\b)|"
                   r"\bcomment\b(?: [\w'’-]+){0,8}? (?:calcul(?:e|é|ée|és|ées|er|ent)|calcule-t-on)\b|"
                   r"\bc[óo]mo se calcula|\bwie berechnet man\b|"
                   r"\bwie (?:wird|werden)\b(?: \w+){0,8}? (?:berechnet|errechnet)\b|"
                   r"\b(?:what|which) (?:is the )?formula\b|\bquelle (?:est la )?formule (?:de|du|des|pour|qui)\b|"
                   r"\bqué fórmula|\bwelche formel", re.IGNORECASE),
        re.compile(r"[\w)]\s[=≈]\s[\w(−-]"),
    ),
}
# Types whose answers are code: a line of code or a path is evidence for them, and only for them.
CODE_TYPES = frozenset({"path", "command"})
_ENDS_SENTENCE = re.compile(r"[.!?…»”\"]$")
_LIST_ITEM = re.compile(r"^\s*(?:[-–•*]|\d+[.)])\s")


def expected_answer_type(question: str) -> str | None:
    """``"date"``, ``"quantity"``, ``"person"``, ``"path"``, ``"command"``, ``"place"``, ``"formula"`` or
    None, from the question's wording (the first type whose words it holds).

    >>> expected_answer_type("Quand l'antenne a-t-elle été inaugurée ?")
    'date'
    """
    for name, (asks, _) in ANSWER_TYPES.items():
        if asks.search(question):
            return name
    return None


def holds_answer_type(text: str, answer_type: str | None) -> bool:
    """Whether a sentence holds something of the type (its first word skipped for names: capitalised)."""
    if answer_type is None:
        return False
    return bool(ANSWER_TYPES[answer_type][1].search(text[1:] if answer_type == "person" else text))


_PROMPT = re.compile(r"^\s*(?:[$#>]|\w+@[\w-]+:\S*[$#])\s")
_PROSE_END = re.compile(r"[\w)»”\"'][.!?…][»”\"')]*$")
_CODE_CHARS = re.compile(r"[{}\[\]()<>=;$#/\\|*&`\"]|--|::")


def is_code(text: str) -> bool:
    """A line of a shell session, a configuration file or a program rather than prose: a prompt, or
    many code characters and no sentence ending.

    >>> is_code("$ sudo apt-get update"), is_code('set_var EASYRSA_REQ_CITY "Saint-Étienne"')
    (True, True)
    >>> is_code("Run apt-get update before you install anything (see /etc/apt).")
    False
    """
    if _PROMPT.match(text):
        return True
    if _PROSE_END.search(text.rstrip()) and " " in text.strip():
        return False
    words = text.split()
    return len(_CODE_CHARS.findall(text)) >= max(1, len(words) / 4) or bool(re.search(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", text))


# What a question names when it asks for code: a command, a file, an option, a setting, a key, a syntax,
# a format code, a line to write, or a task (French and English, with Spanish and German for the commonest).
_ASKS_CODE_WORDS = re.compile(
    r"\b(?:commands?|commandes?|comandos?|befehle?|options?|opci[óo]n(?:es)?|flags?|switch(?:es)?|drapeaux?|"
    r"settings?|r[ée]glages?|param[eè]t(?:er|re)s?|parámetros?|einstellung(?:en)?|keys?|cl[ée]s?|"
    r"syntax|syntaxe|sintaxis|variables?|directives?|operands?|op[ée]randes?|arguments?|"
    r"format(?:s)? (?:codes?|sequences?|strings?|specs?|specifications?)|codes? de format|"
    r"(?:escape|format) sequences?|s[ée]quences?(?: de format| d[’'][ée]chappement)?|"
    r"formul(?:a|as|e|es)|scripts?|shebang|snippet|"
    r"files?|fichiers?|paths?|chemins?|director(?:y|ies)|r[ée]pertoires?|"
    r"(?:what|which) (?:line|code)|quel(?:le)? (?:ligne|code)|"
    r"(?:what|how) do i (?:type|write|enter)|que (?:taper|saisir|[ée]crire)|"
    # "How do I ...", "Comment ...": a task, which manuals answer with the command or the code that does it.
    r"how (?:do|can|could|should|would) (?:i|you|we|one)|how to|^\W*comment|c[óo]mo (?:puedo|se)|wie kann)\b",
    re.IGNORECASE)
# ... or quotes code itself: an option (-n, --color), a path, a file name, a call (f(), SUM(A1)), a KEY_NAME,
# `code`, a=b, a formula (=A1+1).
_CODE_TOKEN = re.compile(r"(?:^|\s)--?[A-Za-z][\w-]*|(?<![\w/])(?:~|\.{1,2})?/[\w.+-]+/|\b[\w-]+\.(?:conf|cfg|ini|json|py|sh|d)\b|"
                         r"\b[A-Za-z_]\w*\([^()\s]*\)|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|`[^`]+`|\S=\S|(?:^|\s)=[A-Za-z]")


def asks_for_code(question: str, answer_type: str | None = None) -> bool:
    """Whether a question asks for a command, a file, an option, a setting, a key or a syntax (so that a
    line of code or configuration may answer it), in its words or by quoting code itself.

    >>> asks_for_code("Quelle option affiche les tailles en Kio ?"), asks_for_code("How do I set --verbose?")
    (True, True)
    >>> asks_for_code("Why is the sky blue?"), asks_for_code("Qui a fondé la ville ?")
    (False, False)
    """
    if answer_type is None:
        answer_type = expected_answer_type(question)
    return answer_type in CODE_TYPES or bool(_ASKS_CODE_WORDS.search(question) or _CODE_TOKEN.search(question))


_CELL = re.compile(r"\s\|\s")
# "key = value", "key=value", "key: value" (a lower-case key: "Politics: U.N." is a label, not YAML).
_KEY_VALUE = re.compile(r"^\s*[\w.-]+\s*=\s*\S+\s*$|^\s*[\w.-]+=\S|^\s*[a-z_][\w.-]*:\s*\S+\s*$")
_OPTION_ALONE = re.compile(r"^\s*(?:-{1,2}[\w?][\w-]*(?:[= ][\w\[\]<>.=-]+)?[, ]*)+$")
_PATH_ALONE = re.compile(r"^\s*(?:~|\.{1,2})?/\S+\s*$")


def code_shaped(text: str) -> bool:
    """A sentence shaped as code or configuration rather than prose: a line of code (:func:`is_code`,
    table cell separators not counted), a ``key=value`` line, an option or a path alone, or one where
    symbols make a fifth of the characters.

    >>> code_shaped("EDITOR=vim"), code_shaped("-h, --human-readable"), code_shaped("/etc/hosts")
    (True, True, True)
    >>> code_shaped("Le fichier décrit les groupes du système."), code_shaped("Type | Meaning | Example")
    (False, False)
    """
    line = _CELL.sub(" ", text).strip()
    if not line:
        return False
    if _PROMPT.match(line) or _KEY_VALUE.match(line) or _OPTION_ALONE.match(line) or _PATH_ALONE.match(line):
        return True
    words = line.split()
    if len(words) >= 10 and sum(w.strip(".,;:!?\"'()«»“”’").isalpha() for w in words) >= 0.7 * len(words):
        return False  # a long sentence of words with some quotes and brackets: XQuAD's one is_code sentence
    if is_code(line):
        return True
    chars = [c for c in line if not c.isspace()]
    symbols = sum(1 for c in chars if not c.isalnum() and c not in ".,;:!?'’«»\"()-–—")
    return not _PROSE_END.search(line) and symbols >= max(2, len(chars) / 5)


_REFERS_BACK = re.compile(r"^\W*(?:il|elle|ils|elles|ce|cet|cette|ces|cela|ceci|celui-ci|celle-ci|ceux-ci|ça|"
                          r"it|this|these|that|those|they|such|its|their|he|she)\b", re.IGNORECASE)


# A definition that follows its term on the line before is quoted with it: Debian key facts 0.768 ->
# 0.786, seeds, follow-ups and XQuAD unchanged (eval/README.md, "Tuning on three sets").
# A dashed item ("— « Pre-Depends »", the PDF's definition lists) or "- `term`": a term is dashed and short,
# not a sentence, and either the dash is an em dash or the term is quoted; its definition is a dashed
# sentence. Not any short list item: "- Licence à Bordeaux : 48 places" is a fact of its own.
_DASHED = re.compile(r"^\s*([-–—])\s+")
_QUOTED_TERM = re.compile(r"^(?:«\s*[^»]+\s*»|“[^”]+”|\"[^\"]+\"|`[^`]+`)$")


def is_term(text: str) -> bool:
    """A definition list's term: a short dashed item that is no sentence, after an em dash or quoted
    ("— « Pre-Depends »", "- `Depends`"; not "- Licence à Bordeaux : 48 places")."""
    m = _DASHED.match(text)
    body = text[m.end():].strip() if m else ""
    if not body or len(body) > 40 or re.search(r"[.!?;:,]$", body):
        return False
    return m is not None and (m.group(1) == "—" or bool(_QUOTED_TERM.match(body)))


def is_definition(text: str) -> bool:
    """A dashed sentence, as a definition under its term is ("— Comme pour « Depends » excepté ...")."""
    return bool(_DASHED.match(text)) and bool(_ENDS_SENTENCE.search(text.rstrip()))


def refers_back(text: str) -> bool:
    """The sentence leans on the one before it ("Ce logiciel ...", "It ...", "These ...")."""
    return bool(_REFERS_BACK.match(text))


_LEADERS = re.compile(r"(?:\.\s?){4,}\s*\d*\s*$")


def is_headline(text: str) -> bool:
    """A short line without final punctuation that is not a list item or a table row, or a
    table-of-contents line ("3.4 Liste des niveaux d’erreur du noyau . . . . 52"): a title, not a fact."""
    return bool(_LEADERS.search(text)) or (len(text) < 70 and not _ENDS_SENTENCE.search(text)
                                           and not _LIST_ITEM.match(text) and not _TABLE_ROW.search(text))


# A short line holding digits, a cell separator, brackets or code characters is a table row or an item
# ("dialout accès complet et direct aux ports série (/dev/ttyS[0-3])", "10,000+ cycles : Flash memory"):
# a fact, not a title. Debian key facts 0.661 -> 0.750, seeds unchanged, XQuAD en 0.903 -> 0.904.
# A lone " | " is no row: "Céline Authemayou | Publié le" is a byline (a title-like line, penalised as such).
_TABLE_ROW = re.compile(r"\d|[()\[\]/=:_^~$#]|(?: \| .*){2}")


FRAMES = {
    "en": ("According to the documents:", "The documents do not contain an answer to this question."),
    "fr": ("D'après les documents :", "Les documents ne contiennent pas de réponse à cette question."),
    "es": ("Según los documentos:", "Los documentos no contienen una respuesta a esta pregunta."),
    "de": ("Laut den Dokumenten:", "Die Dokumente enthalten keine Antwort auf diese Frage."),
    # Languages told by their script (amqa.text.detect_language) that multilingual-e5 reads: the seeds'
    # questions in them were answered in French or English, or abstained in English (issue 22).
    "zh": ("根据文档：", "文档中没有这个问题的答案。"),
    "ja": ("文書によると：", "文書にはこの質問への答えがありません。"),
    "ko": ("문서에 따르면:", "문서에는 이 질문에 대한 답이 없습니다."),
    "ar": ("وفقًا للمستندات:", "لا تحتوي المستندات على إجابة عن هذا السؤال."),
    "ru": ("Согласно документам:", "В документах нет ответа на этот вопрос."),
    "hi": ("दस्तावेज़ों के अनुसार:", "दस्तावेज़ों में इस प्रश्न का उत्तर नहीं है।"),
}
#: How "related passages only" is introduced: the documents cover the subject, not what was asked.
RELATED_FRAMES = {
    "en": "The documents do not say this directly; the closest passages are:",
    "fr": "Les documents ne le disent pas directement ; les passages les plus proches sont :",
    "es": "Los documentos no lo dicen directamente; los pasajes más cercanos son:",
    "de": "Die Dokumente sagen das nicht direkt; die nächsten Stellen sind:",
    "zh": "文档没有直接说明这一点；最接近的段落是：",
    "ja": "文書はこれを直接述べていません。最も近い箇所は次のとおりです：",
    "ko": "문서에 이 내용이 직접 나와 있지 않습니다. 가장 가까운 구절은 다음과 같습니다:",
    "ar": "لا تذكر المستندات ذلك مباشرة؛ أقرب المقاطع هي:",
    "ru": "В документах это прямо не сказано; ближайшие фрагменты:",
    "hi": "दस्तावेज़ इसे सीधे नहीं कहते; सबसे निकट के अंश ये हैं:",
}
QUOTES = {"fr": ("« ", " »"), "de": ("„", "“"), "es": ("«", "»"), "ru": ("«", "»"), "ar": ("«", "»"), "ja": ("「", "」")}


def answer_marks(text: str, offset: int, answer_type: str | None, question_tokens: frozenset[str] = frozenset(),
                 language: str = "en", config: WriterConfig = WriterConfig()) -> tuple[tuple[int, int], ...]:
    """Spans (``offset``-based) of what the question asks for inside ``text``: the date, number, name,
    place... (at most the config's ``max_marks``). A number is marked only where it counts a word of the question
    ("près de 2.900 entreprises" for "Combien d'entreprises ?"), when some number does.

    >>> t = "Signée le 18 février 2016 à Besançon par 2 écoles."
    >>> [t[a:b] for a, b in answer_marks(t, 0, "date")], [t[a:b] for a, b in answer_marks(t, 0, "place")]
    (['18 février 2016'], ['Besançon'])
    >>> t = "Avec 59.000 emplois et 2.900 entreprises."
    >>> [t[a:b] for a, b in answer_marks(t, 0, "quantity", frozenset(tokenize("entreprises", "fr")), "fr")]
    ['2.900']
    """
    if answer_type is None:
        return ()
    skip = 1 if answer_type == "person" else 0  # a capital at the start of a sentence is no name
    spans = [m.span(m.lastgroup or 0) for m in MARKS[answer_type].finditer(text, skip)]
    if answer_type == "quantity" and question_tokens:
        counting = [(a, b) for a, b in spans if question_tokens & set(_counted(text[b:b + 30], language))]
        spans = counting or spans
    elif answer_type in ("person", "place") and len(spans) > 1 and question_tokens:
        # The name next to the question's own words ("Coline Moal Vignon, Director of AMTalents").
        anchors = [m.span() for m in re.finditer(r"\w+", text) if set(tokenize(m.group(), language)) & question_tokens]
        if anchors:
            spans = [min(spans, key=lambda sp: min(_gap(sp, anchor) for anchor in anchors))]
    return tuple((a + offset, b + offset) for a, b in spans[:config.max_marks])


def _gap(span: tuple[int, int], other: tuple[int, int]) -> int:
    """Characters between two spans (0 when they overlap)."""
    return max(0, other[0] - span[1], span[0] - other[1])


def _counted(after: str, language: str) -> list[str]:
    """The words a number counts: the next two, up to the next number."""
    words = []
    for token in tokenize(after, language)[:2]:
        if token[0].isdigit():
            break
        words.append(token)
    return words


_YEAR = r"(?:1[5-9]\d\d|20\d\d)"
#: What to mark for each answer type: the named group (``m``, or ``n`` for a bare command name) of each match.
MARKS: dict[str, re.Pattern] = {
    "date": re.compile(rf"(?P<m>\b(?:\d{{1,2}}(?:er|st|nd|rd|th)?\s+)?(?:{_MONTHS})(?:\s+\d{{1,2}}(?:st|nd|rd|th)?,?)?"
                       rf"(?:\s+{_YEAR})?\b|\b{_YEAR}\b)", re.IGNORECASE),
    "quantity": re.compile(r"(?P<m>\d+(?:[ \u00a0\u202f.,]\d{3})*(?:[.,]\d+)?(?:\s?%)?)"),
    "person": re.compile(r"(?P<m>\b[A-Z][a-zà-ÿ]+(?: [A-Z][a-zà-ÿ]+){1,2}\b)"),
    "place": re.compile(r"\b(?:in|at|near|à|au|aux|dans|en|bei|im)\s+(?:the |la |le |l[’']|el )?(?P<m>[A-ZÀ-Ý][\w-]+)"),
    "path": re.compile(r"(?P<m>(?<![\w/])(?:~|\.{1,2})?/[\w.+-]+(?:/[\w.*+-]*)*|\b[\w-]+\.(?:conf|cfg|list|ini|rc|sh)\b)"),
    # An equation: "MSS = MTU - 40", "x = 1.5 * y", "E = mc^2" (anchored: no rescan of a long word).
    "formula": re.compile(r"(?<![\w().^])(?P<m>[\w().^]+\s[=≈]\s[-−]?[\w().^]+(?:\s?[-−+*/×÷]\s?[\w().^]+)*)"),
    # A command line after its prompt, else hyphenated program names and options (apt-get, --purge).
    "command": re.compile(r"^\s*[$#]\s+(?P<m>\S.*?)\s*$|(?P<n>\b[a-z][a-z0-9]*(?:-[a-z0-9]+)+\b)"),
}


@dataclass(frozen=True)
class Evidence:
    """A candidate sentence: its span, the chunk it came from, and how well it answers.

    ``features`` are the writer's observations of it, in the order of :data:`FEATURES`; ``score`` is
    :func:`hand_score` of them.
    """

    source: str
    chunk_id: str
    start: int
    end: int
    text: str
    score: float
    dense: float
    lexical: float
    typed: bool = False  # holds what the question asks for (a date, a number...)
    features: tuple[float, ...] = ()
    matched: tuple[tuple[str, float], ...] = ()  # the question's words it holds, each with its share of their weight


#: What the writer observes of a candidate sentence (see :func:`sentence_features`).
FEATURES = ("dense", "dense_gap", "lexical", "lexical_gap", "typed", "typed_code", "type_missing", "headline",
            "code_unasked", "code_asked", "hit_rank", "neighbour_dense", "neighbour_typed", "refers_back",
            "short", "long", "first_in_chunk", "announces")


_CODE_UNASKED = FEATURES.index("code_unasked")


def hand_score(f: dict[str, float], config: WriterConfig = WriterConfig()) -> float:
    """The hand-set sentence score (:class:`WriterConfig`): similarity, a little for shared rare words, a
    bonus for holding the asked type (half of it when a neighbour holds it), a penalty for headlines that
    do not hold it (eval/learn_scorer.py measured a learned model: not better)."""
    # No headline penalty for a line holding what is asked ("“dash -n script.sh” - Syntax check of a Shell
    # script" for a command): Debian key facts 0.786 -> 0.804, seeds citation precision 0.847 -> 0.859,
    # XQuAD unchanged.
    headline = f["headline"] * (1 - f["typed"])
    score = f["dense"] + config.lexical_weight * f["lexical"] - config.headline_penalty * headline
    score += config.code_type_bonus * f["typed_code"] + config.answer_type_bonus * (f["typed"] - f["typed_code"])
    # A line of code or configuration that a question not asking for code gets (feature "code_unasked"):
    # on the Debian Reference set 0.03 / 0.06 lowered key facts from 0.607 to 0.589 / 0.571 when only
    # path and command questions counted as asking (code often is the answer), seeds unchanged.
    score -= config.code_penalty * f["code_unasked"]
    return score + config.neighbour_type_bonus * f["neighbour_typed"]


@dataclass(frozen=True)
class _Candidate:
    source: str
    chunk: Chunk
    index: int  # in chunk.sentences, -1 when not there
    start: int
    end: int
    text: str
    dense: float
    lexical: float
    typed: bool
    hit_rank: int
    matched: tuple[tuple[str, float], ...] = ()


def rank_sentences(result: SearchResult, answer_type: str | None = None,
                   config: WriterConfig = WriterConfig()) -> list[Evidence]:
    """Every embedded sentence of the config's ``search_depth`` top hits, best first by :func:`hand_score`
    (``answer_type``: what the question asks for, from :func:`expected_answer_type` when not given).
    Reads only ``result``: each hit's sentences and the question words' idf."""
    query = result.query
    q_tokens = set(query.tokens)
    q_weight = sum(result.idf.get(t, result.unseen_idf) for t in q_tokens) or 1.0
    if answer_type is None:
        answer_type = expected_answer_type(query.text)
    seen: set[tuple[str, int, int]] = set()  # a sentence of two overlapping chunks counts once
    cands: list[_Candidate] = []
    for rank, hit in enumerate(result.hits[:config.search_depth]):
        chunk, held = hit.chunk, hit.sentences
        if held is None or not len(held):
            continue
        spans = {(s.start, s.end): i for i, s in enumerate(chunk.sentences)}
        similarities = held.similarities(query.vector)
        for (start, end), s_tokens, dense in zip(held.spans, held.tokens, similarities.tolist()):
            key = (chunk.source, start, end)
            if key in seen:
                continue
            seen.add(key)
            text = chunk.text[start - chunk.start:end - chunk.start]
            matched = tuple(sorted((t, result.idf.get(t, 0.0) / q_weight) for t in q_tokens & s_tokens))
            lexical = sum(w for _, w in matched)
            cands.append(_Candidate(chunk.source, chunk, spans.get((start, end), -1), start, end, text, dense,
                                    lexical, holds_answer_type(text, answer_type), rank, matched))
    if not cands:
        return []
    out = []
    for c, f in zip(cands, sentence_features(cands, answer_type, query.text)):
        out.append(Evidence(c.source, c.chunk.id, c.start, c.end, c.text, hand_score(f, config), c.dense, c.lexical, c.typed,
                            tuple(f[name] for name in FEATURES), c.matched))
    out.sort(key=lambda e: -e.score)
    return out


def sentence_features(cands: list[_Candidate], answer_type: str | None, question: str = "") -> list[dict[str, float]]:
    """The :data:`FEATURES` of each candidate: its similarity to the question (and the gap to the best
    one), the question's rare words it holds, whether it holds the asked type (or its neighbour does),
    whether it is a headline or code, where its chunk ranked, its neighbours' similarity."""
    best_dense = max(c.dense for c in cands)
    best_lexical = max(c.lexical for c in cands)
    dense_at = {(c.chunk.id, c.index): c.dense for c in cands if c.index >= 0}
    code_asked = answer_type in CODE_TYPES
    wants_code = asks_for_code(question, answer_type)
    out = []
    for c in cands:
        near = [(c.chunk.id, c.index - 1), (c.chunk.id, c.index + 1)] if c.index >= 0 else []
        neighbour_dense = max((dense_at[k] for k in near if k in dense_at), default=c.dense)
        neighbour_typed = False
        if answer_type is not None and not c.typed and c.index >= 0:
            for j in (c.index - 1, c.index + 1):
                if 0 <= j < len(c.chunk.sentences):
                    s = c.chunk.sentences[j]
                    neighbour_typed |= holds_answer_type(
                        c.chunk.text[s.start - c.chunk.start:s.end - c.chunk.start], answer_type)
        code = code_shaped(c.text)
        out.append({
            "dense": c.dense, "dense_gap": best_dense - c.dense,
            "lexical": c.lexical, "lexical_gap": best_lexical - c.lexical,
            "typed": float(c.typed), "typed_code": float(c.typed and code_asked),
            "type_missing": float(answer_type is not None and not c.typed),
            "headline": float(is_headline(c.text)),
            "code_unasked": float(code and not wants_code), "code_asked": float(code and wants_code),
            "hit_rank": float(c.hit_rank), "neighbour_dense": neighbour_dense - c.dense,
            "neighbour_typed": float(neighbour_typed), "refers_back": float(refers_back(c.text)),
            "short": float(len(c.text) < 40), "long": float(len(c.text) > 300),
            "first_in_chunk": float(c.index == 0), "announces": float(announces(c.text)),
        })
    return out


def should_abstain(best: Evidence, policy: AnswerPolicy, same_language_corpus: bool) -> bool:
    """Abstain when the best sentence is far from the question, or only loosely close and sharing no
    word, name or number with it (off-topic questions land there; answerable ones did not).

    When no document is in the question's language, shared words are not to be expected and
    similarities run lower (XQuAD es->en: 5% of answerable questions under 0.80), so only the
    floor applies, lowered by the policy's ``cross_lingual_margin``.
    """
    if not same_language_corpus:
        return best.dense < policy.abstain_below - policy.cross_lingual_margin
    return best.dense < policy.abstain_below or (best.dense < policy.abstain_unmatched_below
                                                 and best.lexical == 0)


def select_sentences(ranked: list[Evidence], config: WriterConfig = WriterConfig()) -> list[Evidence]:
    """The best sentence, then up to the config's ``max_sentences - 1`` more that score within the margin:
    the wider ``same_source_margin`` for the best sentence's file, ``second_sentence_margin`` for others
    (then :func:`cover` may bring one more)."""
    best = ranked[0]
    chosen = [best]
    for e in ranked[1:]:
        if len(chosen) == config.max_sentences:
            break
        margin = config.same_source_margin if e.source == best.source else config.second_sentence_margin
        if e.score >= best.score - margin and all(normalize(e.text) != normalize(c.text) for c in chosen):
            chosen.append(e)
    return chosen


def cover(chosen: list[Evidence], ranked: list[Evidence], config: WriterConfig = WriterConfig()) -> list[Evidence]:
    """Candidates for one more quote, best first: the sentences of the best one's file that hold words of
    the question no chosen quote holds (worth the config's ``cover_min_gain`` at least) and score within
    its ``cover_margin`` of the best: the table row "arp(8)
    ip neigh ..." under the table's caption, for "Which iproute2 command replaces the obsolete arp
    command?"; the command line "$ sudo adduser foo netdev" for "... adds the desktop user foo to the
    group ...". Ordered by the weight of their new words (their share of the question's rare words), then
    by score. A headline is no fact, so it is not taken unless it holds the asked type. :func:`cite`
    quotes the first that is not inside a quote already.

    >>> def ev(text, score, words):
    ...     return Evidence("a.md", "a.md#0", 0, len(text), text, score, score, 0.0, matched=words)
    >>> caption = ev("Table 5.3 - net-tools to iproute2 commands", 0.92, (("iproute2", 0.4),))
    >>> row = ev("arp(8) ip neigh ARP cache", 0.84, (("arp", 0.3),))
    >>> [e.text for e in cover([caption], [caption, row])]
    ['arp(8) ip neigh ARP cache']
    """
    best = chosen[0]
    held = {word for e in chosen for word, _ in e.matched}

    def gain(e: Evidence) -> float:
        return sum(weight for word, weight in e.matched if word not in held)

    texts = {normalize(e.text) for e in chosen}
    pool = [e for e in ranked if e.source == best.source and e.score >= best.score - config.cover_margin
            and gain(e) >= config.cover_min_gain and normalize(e.text) not in texts
            and not (is_headline(e.text) and not e.typed)]
    return sorted(pool, key=lambda e: (-gain(e), -e.score))


# A sentence announcing the next line in words ("... with the following command.", "comme suit.") is quoted
# with it, as one ending with a colon is: with the covering quote that brings such a sentence, Debian key
# facts 0.875 -> 0.893 ("# dpkg --configure -a", too short to be embedded, is quoted under it); seeds,
# follow-ups and XQuAD unchanged (before the covering quote it changed nothing: eval/README.md).
_NEXT_THING = (r"(?:commands?|lines?|steps?|examples?|code|script|scripts|ways?|manner|output|entry|entries|settings?|"
               r"options?|configuration|commandes?|lignes?|étapes?|exemples?|manières?|façons?|sortie|entrées?|"
               r"comando|comandos|línea|líneas|pasos|ejemplo|befehle?|zeilen?|schritte|beispiel)")
_ANNOUNCES = re.compile(
    rf"(?:\bthe following(?: \w+)? {_NEXT_THING}|\bas follows|\b(?:shown|listed|given|described) below|\bci-dessous|"
    rf"\b{_NEXT_THING} suivante?s?|\bcomme suit|\bce qui suit|\bel siguiente {_NEXT_THING}|"
    rf"\blo siguiente|\bcomo sigue|\bwie folgt(?: \w+)?|\bfolgenden? {_NEXT_THING}(?: \w+)?)[\s.:;]*$", re.IGNORECASE)


def announces(text: str) -> bool:
    """The sentence introduces the next line: it ends with a colon, or says so ("... with the following
    command.", "Procédez comme suit.", "Gehen Sie wie folgt vor.").

    >>> announces("Then configure them with the following command."), announces("He won the following season.")
    (True, False)
    """
    text = text.rstrip()
    return text.endswith(":") or bool(_ANNOUNCES.search(text))


def widen(e: Evidence, chunk: Chunk, answer_type: str | None) -> tuple[int, int]:
    """The span to quote for ``e``: its sentence, with the previous one when it refers back to it, the
    next one when it announces it (:func:`announces`), or the neighbour that holds the asked type when it
    does not (within its chunk). Taking the neighbour so: key facts seeds 0.851 -> 0.868, Debian 0.536
    -> 0.607, XQuAD answers holding gold en 0.897 -> 0.903, es 0.880 -> 0.882."""
    spans = [(s.start, s.end) for s in chunk.sentences]
    if (e.start, e.end) not in spans:
        return e.start, e.end
    i = spans.index((e.start, e.end))
    start, end = e.start, e.end
    text = lambda span: chunk.text[span[0] - chunk.start:span[1] - chunk.start]  # noqa: E731
    if refers_back(e.text) and i > 0:
        start = spans[i - 1][0]
    if i > 0 and is_definition(e.text) and is_term(text(spans[i - 1])):
        start = spans[i - 1][0]  # a definition list: "— « Pre-Depends »" then "— Comme pour « Depends » ..."
    if announces(e.text) and i + 1 < len(spans):  # what follows: a command, a list
        end = spans[i + 1][1]
    if answer_type is not None and not e.typed:
        if i > 0 and holds_answer_type(text(spans[i - 1]), answer_type):
            start = min(start, spans[i - 1][0])
        elif i + 1 < len(spans) and holds_answer_type(text(spans[i + 1]), answer_type):
            end = spans[i + 1][1]
    return start, end


def frame_language(language: str) -> str:
    """The language of amqa's own words in an answer: the question's when amqa has them, else English
    (Persian, Ukrainian, Greek, Hebrew, Thai are detected too: English is read more widely than any
    neighbour language, and guessing one would be wrong as often).

    >>> frame_language("zh"), frame_language("fa")
    ('zh', 'en')
    """
    return language if language in FRAMES else "en"


def frames(language: str) -> tuple[str, str]:
    """(the words that introduce quotes, the abstention sentence) in ``language`` (English if amqa
    has no words in it: :func:`frame_language`)."""
    return FRAMES[frame_language(language)]


def decide(ranked: list[Evidence], policy: AnswerPolicy, same_language_corpus: bool) -> Outcome:
    """Nothing found when the best sentence is too far (:func:`should_abstain`); related passages only
    when it is not close enough to be an answer (the policy's ``answer_above``); else answered."""
    if not ranked or should_abstain(ranked[0], policy, same_language_corpus):
        return Outcome.NOTHING_FOUND
    if policy.answer_above is not None and ranked[0].dense < policy.answer_above:
        return Outcome.RELATED_ONLY
    return Outcome.ANSWERED


def cite(chosen: list[Evidence], chunks: Sequence[Chunk], answer_type: str | None, question_tokens: frozenset[str],
         spares: Sequence[Evidence] = (), config: WriterConfig = WriterConfig()) -> tuple[Citation, ...]:
    """The quotes, numbered in order, each widened to its neighbour where that helps and with the
    answering words marked; a quote is not widened into an earlier quote of its file, and dropped
    if its own sentence overlaps one. Then the first of ``spares`` (:func:`cover`) not dropped so."""
    citations: list[Citation] = []
    by_id = {c.id: c for c in chunks}

    def place(e: Evidence) -> bool:
        chunk = by_id[e.chunk_id]
        start, end = widen(e, chunk, answer_type)
        quoted = [(c.start, c.end) for c in citations if c.source == e.source]
        # Never the same words twice: a neighbour quoted already is not taken again (the other side is).
        if any(a < e.start and start < b for a, b in quoted):
            start = e.start
        if any(e.end < b and a < end for a, b in quoted):
            end = e.end
        if any(a < end and start < b for a, b in quoted):
            return False
        text = chunk.text[start - chunk.start:end - chunk.start]
        citations.append(Citation(n=len(citations) + 1, source=e.source, chunk_id=e.chunk_id, start=start, end=end,
                                  text=text, score=e.score,
                                  marks=answer_marks(text, start, answer_type, question_tokens, chunk.language, config)))
        return True

    for e in chosen:
        place(e)
    for e in spares:
        if place(e):
            break
    return tuple(citations)


def quoted_text(citations: Sequence[Citation], language: str, outcome: Outcome) -> str:
    """The answer's text: the quotes with their ``[n]`` markers, introduced as an answer
    (:attr:`Outcome.ANSWERED`) or as related passages only, in ``language``'s words (:func:`frames`).

    >>> c = Citation(n=1, source="a", chunk_id="a#0", start=0, end=9, text="Il pleut.", score=1.0)
    >>> quoted_text([c], "fr", Outcome.RELATED_ONLY)
    'Les documents ne le disent pas directement ; les passages les plus proches sont : « Il pleut. » [1]'
    """
    lang = frame_language(language)
    open_q, close_q = QUOTES.get(lang, ("“", "”"))
    intro = frames(lang)[0] if outcome is Outcome.ANSWERED else RELATED_FRAMES[lang]
    space = "" if intro.endswith("：") else " "  # a full-width colon holds its space (Chinese, Japanese)
    return intro + space + " ".join(f"{open_q}{c.quote or c.text}{close_q} [{c.n}]" for c in citations)


def compose(result: SearchResult, policy: AnswerPolicy, *, warnings: tuple[str, ...] = (),
            config: WriterConfig | None = None) -> Answer:
    """Quote the best sentences with ``[n]`` markers and mark what answers; or show the closest
    passages, saying the documents do not answer directly; or say nothing was found. In the
    question's language. ``config``: the writer's tunables (default :class:`WriterConfig`'s)."""
    if config is None:
        config = WriterConfig()
    lang = frame_language(result.query.language)
    answer_type = expected_answer_type(result.query.text)
    ranked = rank_sentences(result, answer_type, config)
    outcome = decide(ranked, policy, result.corpus_has_language)
    citations: tuple[Citation, ...] = ()
    if outcome is Outcome.NOTHING_FOUND:
        text = frames(lang)[1]
    else:
        chosen = select_sentences(ranked, config)
        if (config.code_alone_related and outcome is Outcome.ANSWERED
                and all(e.features[_CODE_UNASKED] for e in chosen)):
            outcome = Outcome.RELATED_ONLY  # code that merely shares a name with a prose question
        citations = result.with_pages(cite(chosen, [h.chunk for h in result.hits], answer_type,
                                           frozenset(result.query.tokens), cover(chosen, ranked, config), config))
        text = quoted_text(citations, lang, outcome)
    return Answer(question=result.query.text, text=text, citations=citations, hits=result.hits,
                  outcome=outcome, language=lang, warnings=warnings)
