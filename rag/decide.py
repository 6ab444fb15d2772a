"""The decision step of the pipeline: the shape of the answer, the papers it cites, or abstention.

Runs after retrieval and before any answerer, so every answerer gets the same decision: a question the
collection cannot answer never reaches a model, and a "which papers" list has the same members whoever
writes it. Why to abstain is ``rag.abstain``'s job; this module applies it to the papers chosen here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from rag.abstain import abstain_reason, missing_specifics
from rag.config import Settings
from rag.retrieve import PaperHit, Retrieval
from rag.text import mentions

Shape = Literal["single", "list", "comparison"]
PaperTexts = Callable[[list[PaperHit]], dict[str, str]]  # paper id -> "title\nabstract"
MAX_LIST = 12
MAX_COMPARISON = 4

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


def question_shape(question: str) -> Shape:
    """``list`` (which papers…), ``comparison`` (X vs Y) or ``single``."""
    q = question.casefold()
    if any(re.search(p, q) for p in _COMPARISON_PATTERNS):
        return "comparison"
    if any(re.search(p, q) for p in _LIST_PATTERNS):
        return "list"
    return "single"


def list_score(paper: PaperHit, settings: Settings) -> float:
    """Relevance plus a share of the relative BM25 score: list questions often hinge on exact terms."""
    return paper.relevance + settings.list_keyword_weight * paper.keyword


def select_papers(retrieval: Retrieval, shape: Shape, settings: Settings) -> list[PaperHit]:
    papers = retrieval.papers
    top = papers[0].relevance
    if shape == "list":
        # Anchored on the second-best paper: a near-verbatim title match should not raise the bar for the rest.
        scores = sorted((list_score(p, settings) for p in papers), reverse=True)
        anchor = scores[1] if len(scores) > 1 else scores[0]
        floor = max(settings.list_min_relevance, anchor - settings.list_max_drop)
        chosen = [p for p in papers if list_score(p, settings) >= floor][:MAX_LIST]
    elif shape == "comparison":
        floor = max(settings.list_min_relevance, top - settings.compare_max_drop)
        chosen = [p for p in papers if p.relevance >= floor][:MAX_COMPARISON]
        chosen = chosen if len(chosen) >= 2 else papers[:2]
    else:
        chosen = papers[:1]
    return chosen or papers[:1]


@dataclass
class Plan:
    """What the answerers are asked to write: the question's shape and the papers to cite, or why not to."""

    retrieval: Retrieval
    shape: Shape
    papers: list[PaperHit]  # the papers to cite, best first
    texts: dict[str, str]  # paper id -> "title\nabstract"
    abstain_reason: str | None
    low_relevance: bool  # the best paper only partly matches the question

    @property
    def question(self) -> str:
        return self.retrieval.question

    def abstract(self, paper: PaperHit) -> str:
        return self.texts.get(paper.paper_id, "").partition("\n")[2]


def plan(retrieval: Retrieval, settings: Settings, paper_texts: PaperTexts) -> Plan:
    """The question's shape, the papers to cite, their texts, and the reason to abstain instead (or None)."""
    shape = question_shape(retrieval.question)
    if not retrieval.papers:
        return Plan(retrieval, shape, [], {}, "nothing is indexed", False)
    papers = select_papers(retrieval, shape, settings)
    texts = paper_texts(papers)
    if shape == "comparison":
        # A paper the question names but the selection missed joins it, found by the name in its title.
        missing = missing_specifics(retrieval.question, "\n".join(texts.values()))
        named = [p for p in retrieval.papers if p not in papers and any(mentions(p.title, t) for t in missing)]
        if named:
            papers = papers + named[: max(1, MAX_COMPARISON - len(papers))]
            texts = paper_texts(papers)
    reason = abstain_reason(
        retrieval.papers[0].relevance,
        retrieval.question,
        "\n".join(texts.values()),
        settings,
        single_paper=shape == "single",
    )
    low = papers[0].relevance < settings.list_min_relevance
    return Plan(retrieval, shape, papers, texts, reason, low)
