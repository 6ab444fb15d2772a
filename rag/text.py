"""Text helpers every part of answering shares: sentences, words, stems, stop words, named terms.

One tokenisation for the whole product, so the abstention check, the evidence choice, the citation check
and the UI's highlighting all agree on what a "term" is.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)?%?")
_TOKEN = re.compile(r"[^\s,;:!?()\"“”]+")

# Words that open or glue a question; never a named thing even when capitalised.
QUESTION_WORDS = frozenset(
    {
        "which",
        "what",
        "who",
        "whom",
        "whose",
        "how",
        "why",
        "when",
        "where",
        "did",
        "does",
        "do",
        "is",
        "are",
        "was",
        "were",
        "can",
        "could",
        "would",
        "should",
        "will",
        "has",
        "have",
        "in",
        "on",
        "according",
        "across",
        "between",
        "compared",
    }
)
# Words that say how a question is asked rather than what it is about.
_QUESTION_SCAFFOLD = {
    "paper",
    "papers",
    "study",
    "studies",
    "work",
    "abstract",
    "say",
    "says",
    "show",
    "shows",
    "does",
    "do",
    "report",
    "reports",
    "propose",
    "proposes",
}


@lru_cache(maxsize=1)
def stemmer() -> Any:  # PyStemmer has no type stubs
    """The English Snowball stemmer (the one the keyword index uses too)."""
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """English stop words plus the scaffolding of questions about papers."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | _QUESTION_SCAFFOLD


def is_stopword(word: str) -> bool:
    folded = word.casefold()
    return folded in stopwords() or folded in QUESTION_WORDS


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def content_terms(text: str) -> set[str]:
    """The stems of the words that carry meaning (stop words and one-letter words dropped)."""
    words = [w for w in _WORD.findall(text.casefold()) if w not in stopwords() and len(w) > 1]
    return set(stemmer().stemWords(words))


def normalise(text: str) -> str:
    """Case-folded words separated by single spaces, padded with a space on each side for whole-word search."""
    return " " + " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split()) + " "


def mentions(text: str, term: str) -> bool:
    """Whether ``text`` mentions ``term`` (case-, punctuation- and plural-insensitive)."""
    haystack = normalise(text)
    needle = normalise(term).strip()
    candidates = {needle}
    if needle.endswith("s") and len(needle) > 3:
        candidates.add(needle[:-1])
    return any(f" {c} " in haystack or f" {c}s " in haystack for c in candidates)


def specific_terms(question: str) -> list[str]:
    """Words that name something specific: mixed case or digits, not at the start of the question."""
    tokens = _TOKEN.findall(question)
    terms = []
    for index, token in enumerate(tokens):
        word = re.sub(r"['’]s$", "", token.strip(".'’"))
        if not word or not any(ch.isalnum() for ch in word) or is_stopword(word):
            continue
        has_digit = any(ch.isdigit() for ch in word)
        inner_upper = any(ch.isupper() for ch in word[1:])
        capitalised = word[0].isupper() and index > 0
        if has_digit or inner_upper or capitalised:
            terms.append(word)
    return terms
