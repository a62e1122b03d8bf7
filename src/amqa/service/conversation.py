"""Follow-up questions: what a question means given the conversation before it, offline.

"Et quand ?" after "Où Arts et Métiers va-t-il ouvrir un campus au Maroc ?" cannot be searched alone.
:func:`standalone` decides whether a question leans on the earlier turns and, when it does, adds the
subject of the previous question to what is searched: a follow-up that names nothing ("Et quand ?")
becomes the previous question asking this instead; one with words of its own ("Qui la dirige ?") gets
the names of the previous question. The follow-up's own words come first, so the answer type is its
own ("quand": a date), and the answer is framed in its language. A question that stands on its own is
left unchanged.

>>> history = [{"role": "user", "content": "Où Arts et Métiers va-t-il ouvrir un campus au Maroc ?"},
...            {"role": "assistant", "content": "D'après les documents : « ... Rabat ... » [1]"}]
>>> standalone("Et quand ?", history).text
'quand Arts et Métiers va-t-il ouvrir un campus au Maroc ?'
>>> standalone("Qui le dirige ?", history).text
'Qui le dirige ? (Arts et Métiers Maroc)'
>>> standalone("Combien d'apprentis sont formés à Arts et Métiers ?", history).follow_up
False

Only the user's turns are read: the assistant's turns are quotes, long and about more than the subject.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from amqa.errors import InvalidInputError
from amqa.text import STOPWORDS, clean_text
from amqa.types import Message

ROLES = ("user", "assistant")


def check_history(history: Sequence[Mapping[str, str]] | None) -> tuple[Message, ...]:
    """The turns of ``history`` (``[{"role": "user"|"assistant", "content": str}, ...]``, the format
    of OpenAI and Gradio), checked where they enter.

    >>> check_history([{"role": "user", "content": "Hi?"}])
    (Message(role='user', content='Hi?'),)
    >>> check_history([{"role": "bot", "content": "x"}])
    Traceback (most recent call last):
    amqa.errors.InvalidInputError: history turn 1 has role 'bot': use 'user' or 'assistant'
    """
    if history is None:
        return ()
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        raise InvalidInputError(f"history must be a list of {{'role', 'content'}} turns, not {type(history).__name__}")
    turns = []
    for i, item in enumerate(history, 1):
        if isinstance(item, Message):
            item = {"role": item.role, "content": item.content}
        if not isinstance(item, Mapping) or "role" not in item or "content" not in item:
            raise InvalidInputError(f"history turn {i} is {str(item)[:60]!r}: each turn needs 'role' and 'content'")
        role = item["role"]
        if role == "system":  # OpenAI conversations open with one: it names no subject
            continue
        if role not in ROLES:
            raise InvalidInputError(f"history turn {i} has role {role!r}: use 'user' or 'assistant'")
        turns.append(Message(role, clean_text(_text_of(item["content"]))))
    return tuple(turns)


def _text_of(content: object) -> str:
    """A turn's text: a string, or the text parts of OpenAI's list of parts; anything else (Gradio may
    hold a file or a component in a turn) says nothing about the subject."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str))
    return ""


@dataclass(frozen=True)
class Standalone:
    """The question to search: ``text`` (the question itself, or with its context added), whether
    it was a follow-up, and the earlier question it leans on (itself resolved)."""

    text: str
    follow_up: bool = False
    context: str = ""


# A follow-up opens with a connective ("Et quand ?", "And the budget?") or, having no name or number
# of its own, refers back ("Qui le dirige ?", "How many students will it have?") or is too short to
# name a subject (fewer than MIN_CONTENT_WORDS words that are not stopwords or question words).
MIN_CONTENT_WORDS = 2
# A pronoun in a longer question usually points inside it ("which command configures all of them?"):
# with up to 4 words of their own, 21 of the 24 follow-ups of eval/followups.jsonl are
# found, and 0 of the 141 single questions of the seeds' and the Debian sets are taken for follow-ups.
MAX_REFERRING_WORDS = 4
CONNECTIVES = ("et", "and", "also", "aussi", "mais", "but", "or", "then", "puis", "alors", "what about", "how about",
               "und", "auch", "pero")
# Followed by a space or a comma: not "Puis-je", "E-mail"; not "y" ("Y a-t-il") nor "ou" (a missing accent).
_CONNECTIVE = re.compile(rf"^\W*(?:{'|'.join(CONNECTIVES)})(?=[\s,])", re.IGNORECASE)
# Pronouns and determiners that point back; "-elle", "-t-elle", "-ils" but not "-t-il" ("y a-t-il") or "est-ce";
# not "le/la/les", "en", "y"
# (articles and idioms: "le noyau", "en 2016", "y a-t-il") unless a clitic before a verb ("Qui la dirige ?").
_REFERS = re.compile(r"(?<![-\w])(?:it|its|they|them|their|this|these|those|he|she|his|her|him|"
                     r"il|elle|ils|elles|lui|leur|leurs|son|sa|ses|ce|cet|cette|ces|celui|celle|ceux|cela|ça)\b"
                     r"(?!['’-])|-(?:t-)?(?:elle|elles|ils)\b|\b(?:qui|que|qu['’]|ne|n['’]|je|tu|on|nous|vous)\s*(?:le|la|les|l['’]|lui|leur)\s",
                     re.IGNORECASE)
# A question that is only a preposition, "which" and a noun ("Avec quel ministère marocain ?", "With
# which partner?", "À quelle date ?") has lost its verb and subject to the turn before. Found: 22 of the
# 24 follow-ups of eval/followups.jsonl (21 without it); still none of the 141 single questions of the
# seeds and Debian sets (XQuAD en: 15 of 1,190, before and after). A verb after it ("A quoi sert dpkg ?",
# "In which city is the campus?") makes a question of its own.
_ELLIPTIC = re.compile(r"^\W*(?:avec|pour|par|dans|depuis|selon|chez|contre|sur|sous|vers|à|a|de|en|with|for|by|"
                       r"from|in|on|at|since|to|under)\s+(?:quel|quelle|quels|quelles|lequel|laquelle|lesquels|"
                       r"lesquelles|which|what)(?:\s+[\w’'-]+){1,2}\s*[?？]?\s*$", re.IGNORECASE)
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how many much does did do is are was were will would can could "
    "should has have had quoi quel quelle quels quelles qui que qu quand où combien comment pourquoi est-ce "
    "est sont a ont va vont fait font peut peuvent t-il t-elle t-ils t-elles dónde cuándo cuánto cuántos "
    "qué quién cómo wann wo wer wie viele was welche".split())
# Names in a question: capitalised words and their runs ("Arts et Métiers", "Cnam de Montbéliard").
_NAMES = re.compile(r"\b[A-ZÀ-Ý][\w’'-]*(?:\s+(?:et|de|du|des|d’|d'|of|the|and)?\s*[A-ZÀ-Ý0-9][\w’'.-]*)*")
_WORD = re.compile(r"[\w’'-]+")
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b(?:[A-ZÀ-Ý][\w-]*[a-zà-ÿ0-9][\w-]*|[A-Z]{2,}[\w-]*)|\d")


def _content_words(text: str) -> list[str]:
    words = []
    for w in _WORD.findall(text):
        w = re.sub(r"^\w['’]", "", w).lower()  # d'étudiants -> étudiants
        w = re.sub(r"-(?:t-)?(?:il|elle|ils|elles|on|ce)$", "", w)  # compte-t-elle -> compte
        if w and w not in _QUESTION_WORDS and not any(w in sw for sw in STOPWORDS.values()):
            words.append(w)
    return words


def is_follow_up(question: str) -> bool:
    """Whether the question leans on an earlier turn (see the rule above).

    >>> [is_follow_up(q) for q in ("Et quand ?", "Qui le dirige ?", "And how many students will it have?")]
    [True, True, True]
    >>> [is_follow_up(q) for q in ("Combien d'étudiants compte le campus de Cluny ?",
    ...                            "When did the ENSMM and Arts et Métiers sign their agreement?")]
    [False, False]
    """
    if _CONNECTIVE.match(question):
        return True
    if _NAME.search(question.strip()):
        return False
    words = len(_content_words(question))
    if _ELLIPTIC.match(question):  # "Avec quel ministère marocain ?"
        return True
    return (bool(_REFERS.search(question)) and words <= MAX_REFERRING_WORDS) or words < MIN_CONTENT_WORDS


def subject(question: str) -> str:
    """The question without its question words and punctuation: what it is about.

    >>> subject("Où Arts et Métiers va-t-il ouvrir un campus au Maroc ?")
    'Arts et Métiers va-t-il ouvrir un campus au Maroc'
    """
    words = question.strip().rstrip("?¿!. ").split()
    while words and (words[0].lower().strip("¿¡,") in _QUESTION_WORDS or words[0].lower().strip(",") in CONNECTIVES):
        words.pop(0)
    return " ".join(words)


def standalone(question: str, history: Sequence[Mapping[str, str]] | Sequence[Message] | None) -> Standalone:
    """What to search for ``question`` after ``history``: unchanged when it stands alone or nothing
    came before; else with the subject of the previous user question, itself resolved the same way
    (so "Et quand ?" then "Qui le dirige ?" both stay on the first subject).

    >>> turns = [{"role": "user", "content": "Où Arts et Métiers va-t-il ouvrir un campus au Maroc ?"},
    ...          {"role": "user", "content": "Et quand ?"}]
    >>> standalone("How many students will it have?", turns).text
    'How many students will it have? (Arts et Métiers Maroc)'
    """
    turns = [t if isinstance(t, Message) else Message(t["role"], t["content"]) for t in (history or ())]
    asked = [t.content for t in turns if t.role == "user" and t.content.strip()]
    if not asked or not is_follow_up(question):
        return Standalone(question)
    earlier = [Message("user", q) for q in asked[:-1]]
    previous = standalone(asked[-1], earlier[-MAX_TURNS:])
    context = subject(re.sub(r"[?()¿]", " ", previous.text))
    names = [m.group() for m in _NAMES.finditer(context) if _content_words(m.group())]
    if names and subject_free(question) is None:
        # A follow-up with words of its own ("Qui la dirige ?") takes only the names it refers to:
        # the rest of the previous question drew its answer back (follow-up key facts 0.625 -> 0.833).
        context = " ".join(dict.fromkeys(names))
    words = context.split()
    context = " ".join(words[-MAX_CONTEXT_WORDS:])
    if not context:
        return Standalone(question)
    asks = subject_free(question)
    if asks is not None:  # "Et quand ?": the previous question, asking this instead
        return Standalone(f"{asks} {context} ?", follow_up=True, context=previous.text)
    return Standalone(f"{question.strip()} ({context})", follow_up=True, context=previous.text)


def subject_free(question: str) -> str | None:
    """The question words of a follow-up that names nothing ("Et quand ?" -> "quand", "And how many?"
    -> "how many"), or None when it has words of its own.

    >>> subject_free("Et quand ?"), subject_free("Qui le dirige ?")
    ('quand', None)
    """
    words = [w for w in question.strip().rstrip("?¿!. ").split() if w.lower().strip(",") not in CONNECTIVES]
    if words and all(w.lower().strip("¿¡,") in _QUESTION_WORDS for w in words):
        return " ".join(words)
    return None


# Enough for a chain of follow-ups on one subject; a long context would drown the question itself.
MAX_TURNS = 4
MAX_CONTEXT_WORDS = 30
