"""Misspelt words in a question, corrected against the collection's own vocabulary.

"which papes train on distilled traces", "retreiving", "acuracy": a misspelt word matches nothing, counts
as a word no abstract uses (a reason to abstain), and hides what the question asks for. A word is
corrected only when all of these hold, so that a rare term or a name the collection lacks ("HumanEval",
"quantization", "protein") is left alone and can still make the answer abstain:

* it is a lower-case word of at least ``MIN_LENGTH`` letters (a capitalised word or one with digits is a
  name, and names are not spelling mistakes);
* the collection never uses its stem;
* it is not an English word: neither it nor it without a common ending or prefix ("fixes" -> "fix",
  "retraining" -> "training") is a whole word of the embedding model's WordPiece vocabulary (30,000 common
  words), so "letter" is not made "better" nor "helper" "helped";
* a replacement is one edit away (a letter dropped, added, changed, or two swapped) and is itself an English
  word that at least ``MIN_USES`` indexed entries use, or is the American spelling of it ("verbalised" ->
  "verbalized"); a word the collection uses once or twice is a less likely target than a name it lacks.

Among several replacements a whole vocabulary word beats an inflected one ("menaing" -> "meaning", not
"metaing"), then the one the collection uses most wins, then the one keeping more of the word's ending ("papes"
-> "papers", not "paper"). Words longer than ``MAX_LENGTH`` are left alone: the edits of a word grow with the
square of its length, and no word worth correcting is that long.

The limit: a lower-case name one edit from a word the collection uses often is still "corrected" ("parti" ->
"part"); capitalised, it is left alone.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from rag.text import is_stopword, stemmer

MIN_LENGTH = 5
MAX_LENGTH = 30
MIN_USES = 3
Frequency = Callable[[str], int]  # stem -> how many indexed entries use it

_LOWER_WORD = re.compile(r"\b[a-z]+\b")
_ENDINGS = ("s", "es", "d", "ed", "ing", "r", "er", "ers", "st", "est", "ly", "n", "t")  # "doesnt" -> "doesn"
_BASE_FORMS = ("", "e", "s", "ed", "ing")  # "bakes" -> "bak" -> "baking"
_PREFIXES = ("re", "un", "pre", "non", "over", "under")
_BRITISH = ((re.compile(r"is(e|es|ed|ing|ation|ations)$"), r"iz\1"), (re.compile(r"our$"), "or"))


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The whole words of the packaged model's WordPiece vocabulary (no sub-word pieces, no symbols)."""
    from rag.embeddings import model_path

    vocabulary = Path(model_path()) / "vocab.txt"
    words = vocabulary.read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w.isalpha() and w.isascii())


def is_english(word: str) -> bool:
    """A vocabulary word, or one with a common ending or prefix added to a vocabulary word."""
    english = english_words()
    return (
        word in english
        or any(word.endswith(e) and word[: -len(e)] + f in english for e in _ENDINGS for f in _BASE_FORMS)
        or any(word.startswith(p) and word[len(p) :] in english for p in _PREFIXES)
    )


def _shared_ending(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def one_edit_away(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    letters = string.ascii_lowercase
    deleted = {left + right[1:] for left, right in splits if right}
    swapped = {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    changed = {left + c + right[1:] for left, right in splits if right for c in letters}
    added = {left + c + right for left, right in splits for c in letters}
    return (deleted | swapped | changed | added) - {word}


def american(word: str) -> set[str]:
    """``optimisation`` -> ``optimization``, ``behaviour`` -> ``behavior``."""
    return {pattern.sub(replacement, word) for pattern, replacement in _BRITISH if pattern.search(word)}


def correction(word: str, frequency: Frequency) -> str | None:
    """The word ``word`` was probably meant to be, or None to leave it as it is."""
    stem = stemmer().stemWord
    if not MIN_LENGTH <= len(word) <= MAX_LENGTH or is_stopword(word) or is_english(word):
        return None
    if frequency(stem(word)) > 0:
        return None
    candidates = {c for c in one_edit_away(word) if is_english(c)}
    used = {c: frequency(stem(c)) for c in candidates}
    used = {c: n for c, n in used.items() if n >= MIN_USES}
    used |= {c: n for c in american(word) if (n := frequency(stem(c))) > 0}
    english = english_words()
    return max(sorted(used), key=lambda c: (c in english, used[c], _shared_ending(word, c))) if used else None


def correct_spelling(question: str, frequency: Frequency) -> str:
    """``question`` with its misspelt words corrected (unchanged when none is)."""

    def replace(match: re.Match[str]) -> str:
        return correction(match.group(0), frequency) or match.group(0)

    return _LOWER_WORD.sub(replace, question)


def read_as(asked: str, searched: str) -> str | None:
    """A note of the words ``correct_spelling`` changed ("Read 'papes' as 'papers'."), or None."""
    pairs = zip(_LOWER_WORD.findall(asked), _LOWER_WORD.findall(searched), strict=False)  # word for word
    changed = [(a, b) for a, b in pairs if a != b]
    if not changed:
        return None
    return "Read " + ", ".join(f"{a!r} as {b!r}" for a, b in changed) + "."
