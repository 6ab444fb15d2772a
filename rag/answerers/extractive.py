"""The offline answerer: quotes the sentences of the planned papers' abstracts that answer the question.

No model is needed. Every answer sentence is a quoted evidence sentence followed by its ``[n]``; list and
comparison answers give one line per paper. The sentences are chosen by ``rag.evidence``.
"""

from __future__ import annotations

from collections.abc import Generator

from rag.answer import Mode
from rag.answerers.base import Draft, History, Source
from rag.config import Settings
from rag.decide import Plan
from rag.evidence import best_sentences
from rag.text import content_terms

# Sentence choice weighs lexical overlap with the question against the similarity of the retrieved chunk
# holding the sentence: facts are found by their words, list membership by meaning.
OVERLAP_WEIGHT = {"single": 2.0, "comparison": 2.0, "list": 0.25}
SENTENCES_PER_PAPER = {"single": 4, "comparison": 2, "list": 1}


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
        shape = plan.shape
        terms = content_terms(plan.question)
        sources: list[Source] = []
        lines: list[str] = []
        for n, paper in enumerate(plan.papers, start=1):
            sentences = best_sentences(
                plan.question,
                terms,
                paper,
                plan.abstract(paper),
                limit=SENTENCES_PER_PAPER[shape],
                overlap_weight=OVERLAP_WEIGHT[shape],
            )
            evidence = " ".join(sentences)
            sources.append(Source(n, paper, plan.texts.get(paper.paper_id, paper.title), quote=evidence))
            if shape == "single":
                lines.extend(f"{s} [{n}]" for s in sentences)
            else:
                lines.append(f"- {paper.title}: {evidence} [{n}]")
        if shape == "single":
            body = " ".join(lines)
        else:
            count = len(plan.papers)
            verb = "address" if count != 1 else "addresses"
            intro = f"{count} paper{'s' if count != 1 else ''} in this collection {verb} this:"
            body = intro + "\n" + "\n".join(lines)
        return Draft(body, sources, self.mode, author="extractive answerer")
