"""Text helpers every part of answering shares: sentences, words, stems, stop words, named terms.

One tokenisation for the whole product, so the abstention check, the evidence choice, the citation check
and the UI's highlighting all agree on what a "term" is.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_WORD = re.compile(r"[^\W_]+(?:[.,][0-9]+)?%?")
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_]{2,})")
_SCALE_NAMES = "k|m|b|thousand|million|billion"
_SCALE = re.compile(rf"(?<=\d)\s*({_SCALE_NAMES})\b", re.IGNORECASE)
_SCALES = {"k": "thousand", "m": "million", "b": "billion"}
_SCALE_VALUES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
# LaTeX that abstracts carry over from their sources: escapes, accents, formatting commands, inline math.
_LATEX_ESCAPE = re.compile(r"\\([%$&_#{}])")
_LATEX_ACCENT = re.compile(r"\\([\"'`^~])\{?([A-Za-z])\}?")
_LATEX_COMMAND = re.compile(r"\\(?:textbf|textit|texttt|textsc|emph|url|mathrm|mathbf|text)\{([^{}]*)\}")
_LATEX_MATH = re.compile(r"\$([^$]{1,80})\$")
_ACCENTS = {'"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303"}
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
def nltk_stopwords() -> frozenset[str]:
    """NLTK's English stop words ("what", "did", "me", "about"…), from the copy llama-index ships, read as a
    file so that asking a question never imports llama-index."""
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or spec.origin is None:
        return frozenset()
    path = Path(spec.origin).parent / "_static" / "nltk_cache" / "corpora" / "stopwords" / "english"
    return frozenset(path.read_text(encoding="utf-8").split()) if path.exists() else frozenset()


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """English stop words (bm25s's and NLTK's) plus the scaffolding of questions about papers: words that
    say how a question is asked, not what it asks about."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | nltk_stopwords() | _QUESTION_SCAFFOLD


def is_stopword(word: str) -> bool:
    folded = word.casefold()
    return folded in stopwords() or folded in QUESTION_WORDS


def latex_to_text(text: str) -> str:
    """``T\\"ULU`` -> ``TÜLU``, ``79.2\\%`` -> ``79.2%``, ``\\textbf{ghost}`` -> ``ghost``, ``$k$`` -> ``k``."""
    if "\\" not in text and "$" not in text:
        return text
    text = _LATEX_COMMAND.sub(r"\1", text)
    text = _LATEX_ACCENT.sub(lambda m: unicodedata.normalize("NFC", m.group(2) + _ACCENTS[m.group(1)]), text)
    text = _LATEX_ESCAPE.sub(r"\1", text)
    return _LATEX_MATH.sub(r"\1", text)


def split_letters_and_digits(text: str) -> str:
    """``AIME2024`` -> ``AIME 2024`` and ``3.34M`` -> ``3.34 million``, so both spellings match."""
    text = _SCALE.sub(lambda m: " " + _SCALES.get(m.group(1).casefold(), m.group(1).casefold()), text)
    return _LETTER_DIGIT.sub(" ", text)


def split_sentences(text: str) -> list[str]:
    return list(_sentences(text))


def sentence_pieces(text: str) -> list[str]:
    """``text`` cut at the same sentence boundaries, each piece keeping the whitespace after it (joined, they
    give the text back): what llama-index's sentence splitter expects of a sentence tokenizer."""
    pieces, start = [], 0
    for boundary in _SENTENCE.finditer(text):
        pieces.append(text[start : boundary.end()])
        start = boundary.end()
    return [p for p in (*pieces, text[start:]) if p]


@lru_cache(maxsize=16384)
def _sentences(text: str) -> tuple[str, ...]:  # cached: the same abstracts are split for question after question
    return tuple(piece.strip() for piece in sentence_pieces(text) if piece.strip())


@lru_cache(maxsize=65536)
def content_terms(text: str) -> frozenset[str]:
    """The stems of the words that carry meaning (stop words and one-letter words dropped), after the
    spellings of one thing are made one ("AIME 2024" and "AIME2024", "3.34M" and "3.34 million").

    Cached: the same abstract sentences are scored for question after question."""
    text = split_letters_and_digits(latex_to_text(text)).casefold().replace("-", " ")
    words = [w for w in _WORD.findall(text) if w not in stopwords() and len(w) > 1]
    return frozenset(stemmer().stemWords(words))


@lru_cache(maxsize=16384)
def normalise(text: str) -> str:
    """Case-folded words separated by single spaces, padded with a space on each side for whole-word search;
    letters and digits apart and LaTeX undone, so "AIME2024" matches "AIME 2024"."""
    text = split_letters_and_digits(latex_to_text(text)).casefold()
    return " " + " ".join(re.sub(r"[^\w]+", " ", text).split()) + " "


def mentions(text: str, term: str) -> bool:
    """Whether ``text`` mentions ``term`` (case-, punctuation- and plural-insensitive)."""
    haystack = normalise(text)
    needle = normalise(term).strip()
    candidates = {needle}
    if needle.endswith("s") and len(needle) > 3:
        candidates.add(needle[:-1])
    return any(f" {c} " in haystack or f" {c}s " in haystack for c in candidates)


_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?|"
    r"half|twice|double|triple)\b",
    re.IGNORECASE,
)


def states_a_number(text: str) -> bool:
    """Whether ``text`` gives a figure, in digits or in words ("thirteen tasks", "twice as fast")."""
    return bool(_NUMBER.search(text))


_DIGITS = r"(\d+(?:,\d{3})+|\d+(?:\.\d+)?)"  # "609,432", "3.34", "2"
# A figure in digits, with its scale if it has one: "609,432", "3.34 million", "1.3k", "7B".
_FIGURE = re.compile(rf"(?<![\w.]){_DIGITS}(?:\s*({_SCALE_NAMES})(?![a-z]))?", re.IGNORECASE)
_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
APPROXIMATE = 0.10  # a figure within 10% of one the text states is taken for it: "~600k" for 609,432


@lru_cache(maxsize=16384)
def figures(text: str) -> tuple[float, ...]:
    """The figures ``text`` states, in digits or as a small number in words: "3.34 million" -> 3340000.0,
    "1,035" -> 1035.0, "two" -> 2.0."""
    text = latex_to_text(text)
    found = [_value(match.group(1), match.group(2)) for match in _FIGURE.finditer(text)]
    found.extend(float(_NUMBER_WORDS[m.group(1).casefold()]) for m in _NUMBER_WORD.finditer(text))
    return tuple(found)


# A figure as a question gives it, whole: "600k", "1.3k" (an approximation mark already gone), "3.34M", "1.59x".
_ASKED_FIGURE = re.compile(rf"{_DIGITS}\s*({_SCALE_NAMES})?\s*(?:x|×|%)?", re.IGNORECASE)


def _value(digits: str, scale: str | None) -> float:
    """ "3.34", "M" -> 3340000.0"""
    name = (scale or "").casefold()
    return float(digits.replace(",", "")) * _SCALE_VALUES.get(_SCALES.get(name, name), 1.0)


def states_figure(text: str, figure: str) -> bool:
    """Whether ``text`` states the figure a question gives ("~1.3k", "600k", "2"), or one within
    ``APPROXIMATE`` of it: an asker quotes a figure rounded, or as they remember it. Only a whole figure is read
    so (a name that starts with digits, "2WikiMultiHopQA", "3D", is not one), and a year ("2024") or a size in
    billions ("70B", a model's) must be stated exactly: a near one names another thing."""
    match = _ASKED_FIGURE.fullmatch(figure.strip().lstrip("~≈<>"))
    if match is None:
        return False
    unit = (match.group(2) or "").casefold()
    wanted = _value(match.group(1), unit)
    year = not unit and match.group(1).isdigit() and 1900 <= wanted <= 2099
    tolerance = 0.0 if year or unit in ("b", "billion") else APPROXIMATE
    return any(abs(value - wanted) <= tolerance * max(abs(wanted), abs(value)) for value in figures(text))


def acronym_letters(term: str) -> str:
    """The letters the words an acronym abbreviates start with: "LLMs" -> "llm", "RAR-b" -> "rarb"."""
    letters = re.sub(r"[^a-z]", "", term.casefold())
    if letters.endswith("s") and len(letters) > 2 and not term.isupper():
        letters = letters[:-1]  # a plural: "LMs", "EBTs"
    return letters


def acronym_of(text: str, term: str) -> bool:
    """Whether ``term`` abbreviates words of ``text``: ``CoT`` for "chain-of-thought", ``LMs`` for "language models"."""
    letters = acronym_letters(term)
    if not 2 <= len(letters) <= 6:
        return False
    words = re.findall(r"[a-z0-9]+", text.casefold())
    initials = "".join(w[0] for w in words)
    return letters in initials


def _looks_like_an_identifier(word: str) -> bool:
    """Digits, a capital after the first letter, or all capitals: ``GPT-4o``, ``HumanEval``, ``GPQA``."""
    letters = [ch for ch in word if ch.isalpha()]
    all_caps = len(letters) >= 2 and all(ch.isupper() for ch in letters)
    return any(ch.isdigit() for ch in word) or any(ch.isupper() for ch in word[1:]) or all_caps


def named_terms(question: str, used_by_collection: Callable[[str], bool]) -> list[str]:
    """The names a question uses: what an abstract must mention, word for word, to answer it.

    Typographic identifiers (``AIME2024``, ``HumanEval``, ``GPQA``, each part of ``CVAE-based``),
    capitalised compounds (``Tree-of-Thoughts``), and capitalised words inside a sentence that the collection
    never uses (``Mamba``). A capitalised word the collection does use ("Existing", "While") is an ordinary
    word at the start of a quoted clause, not a name. ``used_by_collection(stem)`` tells which stems occur.
    """
    found: list[str] = []
    for match in _TOKEN.finditer(question):
        token = match.group()
        # "~1.3k", "<1k", "≈600k": a figure as the asker remembers it; the mark is not part of it.
        word = re.sub(r"['’]s$", "", token.strip(".'’\"“”…").lstrip("~≈<>"))
        if not word or not any(ch.isalnum() for ch in word) or is_stopword(word):
            continue
        parts = [part for part in word.split("-") if part]
        before = question[: match.start()].rstrip()
        starts_sentence = not before or before.endswith((":", ".", "?", "!", '"', "“", "'", "‘"))
        if len(parts) > 1 and sum(p[:1].isupper() for p in parts) >= 2 and not starts_sentence:
            if not any(_looks_like_an_identifier(p) for p in parts):
                found.append(word)  # Tree-of-Thoughts, Chain-of-Thought
                continue
        if len(parts) > 1 and all(_looks_like_an_identifier(p) for p in parts):
            found.append(word)  # GPT-4o, Qwen2.5-32B: one name
            continue
        for part in parts:
            if is_stopword(part) or not any(ch.isalnum() for ch in part):
                continue
            unseen = (
                part[:1].isupper()
                and not starts_sentence
                and len(part) >= 3
                and not any(used_by_collection(stem) for stem in content_terms(part))
            )
            if _looks_like_an_identifier(part) or unseen:
                found.append(part)
    return list(dict.fromkeys(found))


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
