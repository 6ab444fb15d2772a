"""Everyday words a question uses and no abstract does, read as the nearest word the retrieved abstracts use.

A question in plain words ("a mystery town", "a bigger model", "a tiny model") shares few stems with
abstracts that say "an unknown city", "a larger model", "a small model". Each such word counted as missing
from every abstract, so the papers that answer it looked unsupported, and the question looked as if it were
about something the collection does not hold. Here each question word that no indexed text uses is compared,
by the embedding model's vector for the word alone, with the model's other words; the nearest one that is at
least ``NEAR_FROM`` similar and whose stem the retrieved papers' titles and abstracts use stands for it in term
coverage ("town" is covered by a sentence saying "city") and lends it its weight (the collection's IDF of
"city").

Only whole words of the embedding model's WordPiece vocabulary are compared: the model has a meaning for
"town" and "city", while a name it splits into pieces ("GPQA") has no useful vector of its own. Which words
are near which is worked out once per model (``build_near_words``, run by ``make setup``: the 21,745 words
embedded and compared with each other, about 10 s) and kept as lists, nearest first, so a question pays
nothing but a lookup, and a process holds a few megabytes of lists rather than the vectors (which are written
too, for ``rag.word_meaning`` to read memory-mapped). Off-topic words
find nothing near enough ("protein", "molecular", "weather" in a collection about language models) and stay
unknown.

The limit: the nearest word is sometimes the opposite ("slower" -> "faster", "cheaper" -> "expensive"). Coverage
then reads the question as being about the same thing (speed, cost), which is what it measures; it never
judged whether a sentence says the same.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import warnings
from collections.abc import Set as AbstractSet
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.acronyms import Glossary
from rag.embeddings import DIMENSION, model_cache, onnx_file
from rag.files import READABLE_BY_ALL, write_atomically
from rag.spelling import english_words
from rag.text import content_terms, latex_to_text

NEAR_FROM = 0.75  # cosine similarity of the two words' vectors; dev: 0.70 and 0.75 alike, 0.80 loses town/city
_WORD = re.compile(r"[^\W\d_]+")  # letters: "naïve" is one word (not in the vocabulary), not "na" and "ve"
_ROWS_PER_BLOCK = 1024  # words compared with all the others at a time while building (about 90 MB)

NearWords = dict[str, tuple[str, ...]]  # a word -> the words at least NEAR_FROM similar to it, nearest first
WordVectors = tuple[dict[str, int], np.ndarray]  # a vocabulary word -> its row; the rows (float16, memory-mapped)


def near_words_file(cache: Path | None = None) -> Path:
    return onnx_file(cache).with_suffix(".near-words.json")


def word_vectors_file(near_words: Path) -> Path:
    """Where the vocabulary's word vectors are kept: beside the near-word lists built with them."""
    return near_words.with_name(near_words.name.removesuffix(".near-words.json") + ".word-vectors.npy")


def near_lists(vectors: np.ndarray, words: list[str], bar: float = NEAR_FROM) -> NearWords:
    """For each word, the other words whose (unit) vectors are at least ``bar`` similar to its own, nearest
    first; words with none are left out."""
    found: NearWords = {}
    for start in range(0, len(words), _ROWS_PER_BLOCK):
        similarity = vectors[start : start + _ROWS_PER_BLOCK] @ vectors.T
        for offset, row in enumerate(similarity):
            near = np.flatnonzero(row >= bar)
            ordered = near[np.argsort(-row[near], kind="stable")]
            others = tuple(words[i] for i in ordered if i != start + offset)
            if others:
                found[words[start + offset]] = others
    return found


def build_near_words(path: Path | None = None) -> Path:
    """Embed every whole word of the model's vocabulary, list each one's near words, and write the lists
    atomically (once per model); the vectors too, in sorted word order (``rag.word_meaning`` reads them)."""
    from rag.embeddings import shared_embedder

    path = path or near_words_file()
    words = _vocabulary_in_order()
    vectors = shared_embedder().embed_words(words)
    lists = near_lists(vectors, words)
    content = json.dumps({"near_from": NEAR_FROM, "vocabulary": len(words), "near": lists}, separators=(",", ":"))
    write_atomically(path, lambda out: out.write(content.encode("utf-8")), mode=READABLE_BY_ALL)
    half = vectors.astype(np.float16)  # 16 MB rather than 33: the cosines differ in the fourth decimal
    write_atomically(word_vectors_file(path), lambda out: np.save(out, half), mode=READABLE_BY_ALL)
    return path


def _read_lists(path: Path) -> NearWords | None:
    """The lists, or None if the file is missing, unreadable, cut short, or made for another bar or vocabulary."""
    try:
        content: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fits = isinstance(content, dict) and content.get("near_from") == NEAR_FROM
    if not fits or content.get("vocabulary") != len(english_words()) or not isinstance(content.get("near"), dict):
        return None
    return {word: tuple(near) for word, near in content["near"].items()}


_BUILD_LOCK = threading.Lock()  # two questions at once must not both build the lists and vectors


@lru_cache(maxsize=1)
def _load_near_words() -> NearWords:
    path = near_words_file(model_cache())
    lists = _read_lists(path)
    if lists is None:  # not built yet (an install older than `make setup`'s step), or damaged: build them
        try:
            lists = _read_lists(build_near_words(path))
        except OSError as err:
            message = f"rag: cannot build the near-word lists at {path} ({err}); plain words stay unread"
            warnings.warn(message, stacklevel=2)
    return lists or {}


def near_words() -> NearWords:
    """The lists, built on first use if ``make setup`` has not built them; empty if they can be neither read
    nor built (then no word is read as another, as before this module existed)."""
    with _BUILD_LOCK:
        return _load_near_words()


def _vocabulary_in_order() -> list[str]:
    """The vocabulary's whole words in the order of the vectors' rows."""
    return sorted(english_words())


def _read_vectors(path: Path) -> WordVectors | None:
    """The vectors, or None if the file is missing, damaged (an empty one too) or made for another vocabulary."""
    words = _vocabulary_in_order()
    try:
        vectors = np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError):
        return None
    if vectors.shape != (len(words), DIMENSION):
        return None
    return {word: row for row, word in enumerate(words)}, vectors


@lru_cache(maxsize=1)
def _load_word_vectors() -> WordVectors | None:
    path = word_vectors_file(near_words_file(model_cache()))
    vectors = _read_vectors(path)
    if vectors is None:  # lists built before the vectors were kept, or damaged: build both
        try:
            build_near_words(near_words_file(model_cache()))
            vectors = _read_vectors(path)
        except OSError as err:
            warnings.warn(f"rag: cannot build the word vectors at {path} ({err})", stacklevel=2)
    return vectors


def word_vectors() -> WordVectors | None:
    """The vocabulary's word vectors (``rag.word_meaning`` reads them), built with the lists on first use if
    missing; None if they can be neither read nor built."""
    with _BUILD_LOCK:
        return _load_word_vectors()


def words_by_stem(text: str) -> dict[str, str]:
    """Each stem of the text's whole vocabulary words (a question's), with the first word (lower case) that
    has it: the word whose near words are looked up."""
    english = english_words()
    found: dict[str, str] = {}
    for word in _WORD.findall(latex_to_text(text)):
        word = word.casefold()
        if word in english:
            for stem in content_terms(word):
                found.setdefault(stem, word)
    return found


def nearest_words(unknown: dict[str, str], vocabulary: AbstractSet[str]) -> Glossary:
    """For each unknown stem (-> its word), the stem of the nearest word that is near enough and that the
    ``vocabulary`` (stems) holds: ``{frozenset({"town"}): frozenset({"citi"})}``, in the glossary's form (a text
    with either covers a question's other). Keyed by the question's stem, which no indexed text uses, so an
    entry never replaces an acronym's (keyed by indexed text) nor another question word's."""
    lists = near_words() if unknown else {}
    found: Glossary = {}
    for stem, word in unknown.items():
        for candidate in lists.get(word, ()):
            held = content_terms(candidate) & vocabulary
            if held:
                found[frozenset({stem})] = frozenset(held)
                break
    return found


if __name__ == "__main__":  # `python -m rag.neighbours --build`: what `make setup` runs
    if "--build" in sys.argv:
        built = near_words()  # reads the lists and checks them, or builds them
        word_vectors()  # reads the vectors and checks them, or builds them with the lists
        print(f"near-word lists: {near_words_file()}" if built else "near-word lists: not available (see above)")
