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
"town" and "city", while a name it splits into pieces ("GPQA") has no useful vector of its own.
Their vectors are computed once per model (``build_table``, run by ``make setup``; about 5 s for the 21,745
words) and read from disk, so a question pays no embedding for them; a question word's near words are found
once (one pass over the table, about a millisecond) and remembered. Off-topic words find nothing near enough
("protein", "molecular", "weather" in a collection about language models) and stay unknown.

The limit: the nearest word is sometimes the opposite ("slower" -> "faster", "cheaper" -> "expensive"). Coverage
then reads the question as being about the same thing (speed, cost), which is what it measures; it never
judged whether a sentence says the same.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
import warnings
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.acronyms import Glossary
from rag.embeddings import DIMENSION, model_cache, onnx_file, publish
from rag.spelling import english_words
from rag.text import content_terms, latex_to_text

NEAR_FROM = 0.75  # cosine similarity of the two words' vectors; dev: 0.70 and 0.75 alike, 0.80 loses town/city
_WORD = re.compile(r"[^\W\d_]+")  # letters: "naïve" is one word (not in the table), not "na" and "ve"


@dataclass(frozen=True)
class WordTable:
    """The model's whole words, each with its unit vector (read from disk on demand: 33 MB)."""

    words: tuple[str, ...]
    rows: dict[str, int]
    vectors: np.ndarray  # len(words) x dimension, float32


def table_file(cache: Path | None = None) -> Path:
    return onnx_file(cache).with_suffix(".words.npy")


def build_table(path: Path | None = None) -> Path:
    """Embed every whole word of the model's vocabulary (once per model) and write the table atomically."""
    from rag.embeddings import shared_embedder

    path = path or table_file()
    vectors = shared_embedder().embed_words(sorted(english_words())).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=".words-", suffix=".npy", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            np.save(out, vectors)
        publish(Path(staging), path)
    finally:
        Path(staging).unlink(missing_ok=True)
    return path


def _read_table(path: Path, words: tuple[str, ...]) -> np.ndarray | None:
    """The table's vectors, or None if the file is missing, unreadable, cut short, or for other words."""
    try:
        vectors = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return vectors if vectors.shape == (len(words), DIMENSION) and vectors.dtype == np.float32 else None


_TABLE_LOCK = threading.Lock()  # two questions at once must not both build it


@lru_cache(maxsize=1)
def _load_table() -> WordTable | None:
    path = table_file(model_cache())
    words = tuple(sorted(english_words()))
    vectors = _read_table(path, words)
    if vectors is None:  # not built yet (an install older than `make setup`'s step), or damaged: build it
        try:
            vectors = _read_table(build_table(path), words)
        except OSError as err:
            warnings.warn(f"rag: cannot build the word table at {path} ({err}); plain words stay unread", stacklevel=2)
            return None
    return None if vectors is None else WordTable(words, {w: i for i, w in enumerate(words)}, vectors)


def word_table() -> WordTable | None:
    """The table, built on first use if ``make setup`` has not built it; None if it can be neither read nor
    built (then no word is read as another, as before this module existed)."""
    with _TABLE_LOCK:
        return _load_table()


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


@lru_cache(maxsize=4096)
def near_candidates(word: str) -> tuple[str, ...]:
    """The vocabulary words at least ``NEAR_FROM`` similar to ``word``, nearest first (one pass over the table
    per word, then cached: the same plain words come back question after question)."""
    table = word_table()
    if table is None or word not in table.rows:
        return ()
    # numpy's own loop, not BLAS: OpenBLAS's threads spin for a while after each call and slowed the
    # question's retrieval that came next by half (the same 1-2 ms either way)
    similarity = np.einsum("ij,j->i", table.vectors, table.vectors[table.rows[word]])
    near = np.flatnonzero(similarity >= NEAR_FROM)
    return tuple(table.words[i] for i in near[np.argsort(-similarity[near], kind="stable")] if table.words[i] != word)


def nearest_words(unknown: dict[str, str], vocabulary: AbstractSet[str]) -> Glossary:
    """For each unknown stem (-> its word), the stem of the nearest word that is near enough and that the
    ``vocabulary`` (stems) holds: ``{frozenset({"town"}): frozenset({"citi"})}``, in the glossary's form (a text
    with either covers a question's other). Keyed by the question's stem, which no indexed text uses, so an
    entry never replaces an acronym's (keyed by indexed text) nor another question word's."""
    found: Glossary = {}
    for stem, word in unknown.items():
        for candidate in near_candidates(word):
            held = content_terms(candidate) & vocabulary
            if held:
                found[frozenset({stem})] = frozenset(held)
                break
    return found


if __name__ == "__main__":  # `python -m rag.neighbours --build`: what `make setup` runs
    if "--build" in sys.argv:
        built = word_table()  # reads the table and checks it, or builds it
        print(f"word table: {table_file()}" if built else "word table: not available (see the warning above)")
