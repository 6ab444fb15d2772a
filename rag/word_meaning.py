"""How much of a question's meaning each of its words carries, to weigh the words that decide what to cite.

A question term's weight in coverage was its IDF in the collection alone. Chat-style questions are full of
words abstracts seldom or never use ("need every paper that even mentions…", "actually", "kind of"), and those
got the highest weights, so that a paper stating the claim itself covered little of the question and fell out
of a list. Here each word of the question is compared, by the embedding model's vector for the word alone,
with the question's own vector: the cosine, floored at ``FLOOR`` and raised to ``POWER``, multiplies the word's
IDF in the support model's features (``rag.decide``). "every", "even" and "actually" lie far from the meaning
of the question they sit in; its subject's words lie close to it.

The vectors of the model's whole vocabulary words are computed once, with the near-word lists
(``rag.neighbours``), and read memory-mapped, so a question pays a lookup. A word outside the vocabulary (a
name, shorthand, a word the model splits into pieces, a hyphenated compound: "GPQA", "pls", "benchmark",
"chain-of-thought") keeps its rarity weight, and so does a word written with the full stop that ends a
statement ("book."): looked up without it, a "which paper" question in the tests cited a second, weaker paper
(not measured further; a known rough edge).

Chosen on dev and val (support features only; abstention and quoting keep the IDF weights): val which-papers
F1 0.706 -> 0.719 and citation F1 0.817 -> 0.827 (means over held-out, val2 … val8), ACLSum val citation F1
0.920 -> 0.917; dev 0.682 -> 0.693 and 0.854 -> 0.854. ``POWER`` 1 did better on the hand-written val sets
but cost ACLSum val 0.023 citation F1. Encoding the words outside the vocabulary too, at question time, scored
0.722 to 0.731 and 0.828 to 0.831 on val but cost 2 to 10 ms on each question with a new one (warm ``ask`` p95
14 -> 30 ms); reading a compound as its parts changed nothing on val but made a "which paper" question cite
a second, weaker paper.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from rag.evidence import QuestionTerms
from rag.neighbours import word_vectors
from rag.retrieve import Retrieval, focus_query
from rag.text import content_terms

FLOOR = 0.05  # a word's cosine with its question is read as at least this
POWER = 0.5
_TOKEN = re.compile(r"[^\W_][\w.-]*")  # a word, a number or a compound as written ("chain-of-thought", "3.34M")


def vocabulary_vectors(words: list[str]) -> dict[str, np.ndarray]:
    """The unit vectors of those ``words`` the model's vocabulary holds, by lower-case word (the model is
    uncased); the others are left out."""
    vocabulary = word_vectors()
    if vocabulary is None:
        return {}
    rows_of, vectors = vocabulary
    held = {w.casefold() for w in words} & rows_of.keys()
    found = {w: np.asarray(vectors[rows_of[w]], dtype=np.float32) for w in held}
    return {w: v / max(float(np.linalg.norm(v)), 1e-12) for w, v in found.items()}


def question_words(question: str) -> dict[str, str]:
    """Each stem of the question, with the first word (as written) that has it."""
    found: dict[str, str] = {}
    for token in _TOKEN.findall(question):
        for stem in content_terms(token):
            found.setdefault(stem, token)
    return found


def weigh_by_meaning(terms: QuestionTerms, retrieval: Retrieval) -> QuestionTerms:
    """The terms with each weight multiplied by how close its word lies to the question's meaning (a word
    outside the vocabulary keeps its weight)."""
    words = question_words(focus_query(retrieval.question))
    vectors = vocabulary_vectors([words[t] for t in terms.weights if t in words])
    if not vectors:
        return terms
    question = retrieval.query_vector / max(float(np.linalg.norm(retrieval.query_vector)), 1e-12)
    weights = dict(terms.weights)
    for stem in weights:
        vector = vectors.get(words.get(stem, "").casefold())
        if vector is not None:
            weights[stem] *= max(float(vector @ question), FLOOR) ** POWER
    return replace(terms, weights=weights)
