"""The ``Answer`` every front end shows, and the question-shape rules both answerers share."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Citation:
    n: int
    paper_id: str
    title: str
    evidence: str
    url: str | None
    relevance: float = 0.0
    abstract: str = ""  # the paper's whole abstract, to show the evidence in context


@dataclass
class SentenceVerdict:
    """One answer sentence and whether its cited sources back it (LLM answers only)."""

    sentence: str
    citations: list[int]
    supported: bool
    reason: str = ""


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    retrieved: list[str]
    abstained: bool
    mode: str  # "extractive" or "llm"
    latency_ms: float
    body: str = ""  # the answer without the reference list
    notice: str | None = None  # one line: why this mode, or what failed
    related: list[str] = field(default_factory=list)  # closest papers when abstaining
    low_relevance: bool = False
    sentences: list[SentenceVerdict] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    rewritten_question: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def references_block(citations: list[Citation]) -> str:
    lines = [f'[{c.n}] {c.title} — "{c.evidence}"' for c in citations]
    return "References:\n" + "\n".join(lines) if lines else ""


def full_text(body: str, citations: list[Citation]) -> str:
    refs = references_block(citations)
    return f"{body}\n\n{refs}" if refs else body


_LIST_PATTERNS = [
    r"^\s*(which|what)\s+(papers|works|studies|abstracts|articles|methods|approaches|benchmarks|models)\b",
    r"^\s*(list|name|find|show)\b.*\b(papers|works|studies)\b",
    r"\b(which|what|any|all)\s+(of\s+the\s+)?(papers|works|studies|abstracts)\b",
    r"\bpapers\s+(that|which|about|on)\b",
]
_COMPARISON_PATTERNS = [
    r"\bcompare\b",
    r"\bcomparison\b",
    r"\bdiffer",
    r"\bversus\b",
    r"\bvs\.?\s",
    r"\bboth\b",
    r"\bcontrast\b",
    r"\bsimilar(ity|ities)?\b",
    r"\bbetween\b.*\band\b",
]


def question_shape(question: str) -> str:
    """``list`` (which papers…), ``comparison`` (X vs Y) or ``single``."""
    q = question.casefold()
    if any(re.search(p, q) for p in _COMPARISON_PATTERNS):
        return "comparison"
    if any(re.search(p, q) for p in _LIST_PATTERNS):
        return "list"
    return "single"
