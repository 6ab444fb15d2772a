"""Choosing the evidence: which sentences of a paper's abstract support an answer.

The extractive answerer quotes what this module picks; a generated answer's citation cards quote the
sentence that best matches the claims citing that paper.
"""

from __future__ import annotations

import re

from rag.retrieve import PaperHit
from rag.text import content_terms, split_sentences

_QUANTITY = re.compile(
    r"\b(how (many|much|large|big|often|long)|what (\w+ ){0,2}(accuracy|rate|score|percentage|number|size|gain|"
    r"improvement|speed-?up|throughput|pass rate)|by how much|how \w+er)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d")


def asks_for_quantity(question: str) -> bool:
    return bool(_QUANTITY.search(question))


def best_sentences(
    question: str,
    question_terms: set[str],
    paper: PaperHit,
    abstract: str = "",
    limit: int = 1,
    overlap_weight: float = 1.0,
) -> list[str]:
    """The sentences of the paper's best chunks that share the most terms with the question.

    The chunk's similarity to the question is part of the score, so a paraphrased question still gets
    the semantically closest passage; questions asking for a quantity prefer sentences with numbers.
    """
    wants_number = asks_for_quantity(question)
    similarity = {}
    for chunk in paper.chunks:
        for sentence in split_sentences(chunk.text):
            similarity.setdefault(sentence, chunk.similarity)
    sentences = split_sentences(abstract) if abstract else list(similarity)
    scored: list[tuple[float, int, str]] = []
    for order, sentence in enumerate(sentences):
        terms = content_terms(sentence)
        overlap = len(question_terms & terms) / (len(question_terms) or 1)
        score = similarity.get(sentence, 0.0) + overlap_weight * overlap
        if wants_number and _NUMBER.search(sentence):
            score += 0.25
        scored.append((score, order, sentence))
    scored.sort(key=lambda item: (-item[0], item[1]))
    # Keep the quoted sentences in their order in the abstract.
    return [sentence for _, _, sentence in sorted(scored[:limit], key=lambda item: item[1])]


def quote_for(claims: str, paper: PaperHit) -> str:
    """The paper's sentence that best supports ``claims`` (the answer sentences citing it)."""
    return " ".join(best_sentences(claims, content_terms(claims), paper, limit=1))
