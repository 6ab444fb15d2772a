"""How much of a question's meaning each of its words carries, to weigh the words that decide what to cite.

A question term's weight in coverage was its IDF in the collection alone. Chat-style questions are full of
words abstracts never use ("pls", "incl", "actually", "kind of", "need every paper that even mentions…"), and
those got the highest weights, so that a paper stating the claim itself ("distillation", "traces") covered
little of the question and fell out of a list. Here each word of the question is compared, by the embedding
model's vector for the word alone, with the question's own vector: the cosine, floored at ``FLOOR`` and
raised to ``POWER``, multiplies the word's IDF in the support model's features (``rag.decide``). "pls" and
"actually" lie far from the meaning of the question they sit in, "distillation" close to it.

Chosen on dev and val (support features only; abstention and quoting keep the IDF weights): dev which-papers
F1 0.682 -> 0.694 and val 0.706 -> 0.722 (citation F1 0.854 -> 0.859, 0.817 -> 0.828), ACLSum val citation F1
0.920 -> 0.917. ``POWER`` 1 did better on the hand-written sets (val which-papers 0.726) but cost ACLSum val
0.023 citation F1; 0.5 was kept.

The vectors of the model's whole vocabulary words are computed once, with the near-word lists
(``rag.neighbours``), and read memory-mapped, so a question pays a lookup; other words (names, shorthand:
"GPQA", "pls") are encoded on first use and kept.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import replace
from functools import lru_cache

import numpy as np

from rag.embeddings import DIMENSION, model_cache, shared_embedder
from rag.evidence import QuestionTerms
from rag.neighbours import build_near_words, near_words_file, word_vectors_file
from rag.retrieve import Retrieval, focus_query
from rag.spelling import english_words
from rag.text import content_terms

FLOOR = 0.05  # a word's cosine with its question is read as at least this
POWER = 0.5
_TOKEN = re.compile(r"[^\W_][\w.-]*")
_LOAD_LOCK = threading.Lock()  # two questions at once must not both build the vectors


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[dict[str, int], np.ndarray] | None:
    """The vocabulary words' rows and their vectors (memory-mapped); built with the near-word lists if
    missing; None if they can be neither read nor built (then every word is encoded on first use)."""
    words = sorted(english_words())
    path = word_vectors_file(near_words_file(model_cache()))
    for attempt in range(2):
        try:
            vectors = np.load(path, mmap_mode="r")
            if vectors.shape == (len(words), DIMENSION):
                return {word: row for row, word in enumerate(words)}, vectors
        except (OSError, ValueError):
            pass
        if attempt == 0:
            try:
                build_near_words(near_words_file(model_cache()))
            except OSError as err:
                warnings.warn(f"rag: cannot build the word vectors at {path} ({err})", stacklevel=2)
                return None
    return None


@lru_cache(maxsize=4096)
def _encoded(word: str) -> np.ndarray:
    return shared_embedder().embed_words([word])[0]


def word_vectors(words: list[str]) -> np.ndarray:
    """Unit vectors of single words, one row each."""
    with _LOAD_LOCK:
        vocabulary = _vocabulary()
    rows = []
    for word in words:
        folded = word.casefold()
        if vocabulary is not None and folded in vocabulary[0]:
            rows.append(np.asarray(vocabulary[1][vocabulary[0][folded]], dtype=np.float32))
        else:
            rows.append(_encoded(word))
    matrix = np.array(rows, dtype=np.float32).reshape(len(rows), DIMENSION)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def question_words(question: str) -> dict[str, str]:
    """Each stem of the question, with the first word (as written) that has it."""
    found: dict[str, str] = {}
    for token in _TOKEN.findall(question):
        for stem in content_terms(token):
            found.setdefault(stem, token)
    return found


def weigh_by_meaning(terms: QuestionTerms, retrieval: Retrieval) -> QuestionTerms:
    """The terms with each weight multiplied by how close its word lies to the question's meaning."""
    words = question_words(focus_query(retrieval.question))
    stems = [t for t in terms.weights if t in words]
    if not stems:
        return terms
    question = retrieval.query_vector / max(float(np.linalg.norm(retrieval.query_vector)), 1e-12)
    closeness = word_vectors([words[t] for t in stems]) @ question.astype(np.float32)
    weights = dict(terms.weights)
    for stem, cosine in zip(stems, closeness, strict=True):
        weights[stem] *= max(float(cosine), FLOOR) ** POWER
    return replace(terms, weights=weights)
