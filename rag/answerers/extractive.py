"""The offline answerer: quotes the sentences of the planned papers' abstracts that answer the question.

No model is needed. Every answer sentence is a quoted evidence sentence followed by its ``[n]``; list and
comparison answers give one line per paper. The sentences are chosen by ``rag.evidence.choose_quotes``.
"""

from __future__ import annotations

from collections.abc import Generator

from rag.answer import Mode
from rag.answerers.base import Draft, History, Source
from rag.config import Settings
from rag.decide import Plan, Shape
from rag.evidence import asks_for_quantity, choose_quotes

QUOTES_PER_PAPER: dict[Shape, int] = {"single": 4, "comparison": 3, "list": 1}


class ExtractiveAnswerer:
    mode = Mode.EXTRACTIVE
    abstain_notice = None  # the choice's own notice says the answer is extractive

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def unavailable(cls, settings: Settings) -> str | None:
        return None  # needs nothing beyond the index

    def rewrite(self, question: str, history: History) -> str | None:
        return None  # no model to rewrite with: the question is searched as asked

    def draft(self, plan: Plan, stream: bool = False) -> Generator[str, None, Draft]:
        yield from ()  # the whole answer is written at once: nothing to stream
        wants_number = asks_for_quantity(plan.question)
        one_paper = len(plan.papers) == 1  # answered like a single fact, whatever the question's shape
        limit = QUOTES_PER_PAPER["single" if one_paper else plan.shape]
        sources: list[Source] = []
        lines: list[str] = []
        for n, paper in enumerate(plan.papers, start=1):
            quotes = choose_quotes(plan.terms, paper, limit, wants_number, plan.wants_fact)
            evidence = " ".join(quotes)
            sources.append(Source(n, paper, plan.texts.get(paper.paper_id, paper.title), quote=evidence))
            if one_paper:
                lines.extend(f"{q} [{n}]" for q in quotes)
            else:
                lines.append(f"- {paper.title}: {evidence} [{n}]")
        if one_paper:
            body = " ".join(lines)
        else:
            count = len(plan.papers)
            verb = "address" if count != 1 else "addresses"
            body = f"{count} paper{'s' if count != 1 else ''} in this collection {verb} this:\n" + "\n".join(lines)
        return Draft(body, sources, self.mode, author="extractive answerer")
