"""The ``Answer`` every front end shows, and the pieces it is made of.

Everything a front end needs to show is a field here (the mode, the abstention and its reason, low
relevance, the fallback's fault, the per-sentence citation verdicts), so none of them parses answer text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# The one "cannot answer" phrase: the LLM prompt asks for it, the code recognises it, the extractive
# answerer writes it.
ABSTAIN_TEXT = "The abstracts in this collection don't answer this question."


class Mode(StrEnum):
    """Which answerer wrote an answer."""

    EXTRACTIVE = "extractive"
    LLM = "llm"


@dataclass
class Citation:
    n: int
    paper_id: str
    title: str
    evidence: str
    url: str | None
    relevance: float = 0.0
    abstract: str = ""  # the paper's whole abstract, to show the evidence in context
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    doi: str | None = None

    @property
    def byline(self) -> str:
        """ "Vaswani et al., 2017", "Smith and Jones", "2024", or "" when nothing is known."""
        families = [a.split(",")[0].strip() if "," in a else a.split()[-1] for a in self.authors if a.strip()]
        who = ""
        if len(families) == 1:
            who = families[0]
        elif len(families) == 2:
            who = f"{families[0]} and {families[1]}"
        elif families:
            who = f"{families[0]} et al."
        return ", ".join(part for part in (who, str(self.year) if self.year else "") if part)


@dataclass
class SentenceVerdict:
    """One answer sentence and whether its cited sources back it."""

    sentence: str
    citations: list[int]
    supported: bool
    reason: str = ""


@dataclass
class Answer:
    question: str
    text: str  # the body, then the reference list
    citations: list[Citation]
    retrieved: list[str]  # titles of the retrieved papers, best first
    abstained: bool
    mode: Mode
    latency_ms: float
    body: str = ""  # the answer without the reference list
    notice: str | None = None  # one line: why this mode, or what failed
    related: list[str] = field(default_factory=list)  # closest papers when abstaining
    low_relevance: bool = False  # the best passages only partly match the question
    abstain_reason: str | None = None  # why the answer abstained (None when it did not)
    fault: str | None = None  # the kind of LLM fault that made this the extractive fallback
    sentences: list[SentenceVerdict] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    rewritten_question: str | None = None
    searched_question: str | None = None  # as searched, when misspelt words were corrected (rag.spelling)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def references_block(citations: list[Citation]) -> str:
    lines = [f'[{c.n}] {c.title}{f" ({c.byline})" if c.byline else ""} — "{c.evidence}"' for c in citations]
    return "References:\n" + "\n".join(lines) if lines else ""


def full_text(body: str, citations: list[Citation]) -> str:
    refs = references_block(citations)
    return f"{body}\n\n{refs}" if refs else body


def abstention(question: str, retrieved: list[str], mode: Mode, reason: str = "", related: int = 3) -> Answer:
    """The "not in these papers" answer, naming the closest papers as possibly related."""
    closest = retrieved[:related]
    body = ABSTAIN_TEXT + (f" ({reason}.)" if reason else "")
    if closest:
        body += "\nPossibly related:\n" + "\n".join(f"- {t}" for t in closest)
    return Answer(
        question=question,
        text=body,
        citations=[],
        retrieved=list(retrieved),
        abstained=True,
        mode=mode,
        latency_ms=0.0,
        body=body,
        related=closest,
        abstain_reason=reason or None,
    )
