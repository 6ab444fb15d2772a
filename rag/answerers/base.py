"""The ``Answerer`` protocol: what every answerer (extractive, LLM, a test's scripted one) implements.

An answerer gets a ``Plan`` (the papers to cite, already decided) and writes a ``Draft``: text with
``[n]`` markers and the numbered sources they refer to. It yields text deltas while it writes, when it can
stream. Everything around it (rewriting a follow-up, retrieval, abstention, the citation check, the
fallback on a fault) belongs to ``rag.assistant.Assistant``, so an answerer stays small.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rag.answer import Mode
from rag.config import Settings
from rag.decide import Plan
from rag.retrieve import PaperHit

History = Sequence[tuple[str, str]]  # earlier (user, assistant) turns


@dataclass
class Source:
    """Paper ``n`` as the answerer saw it; the citation check compares what cites ``[n]`` with ``text``."""

    n: int
    paper: PaperHit
    text: str
    quote: str | None = None  # the evidence the answerer chose itself (the extractive answerer's quotes)


@dataclass
class Draft:
    """An answer before the citation check: text citing ``[n]``, and the sources it may cite."""

    text: str
    sources: list[Source]
    mode: Mode
    author: str  # for notices: "model (gpt-4o-mini)"
    usage: dict[str, Any] = field(default_factory=dict)


class Answerer(Protocol):
    """Writes the answer to a planned question. Implementations are thread-safe and keep no per-question state."""

    mode: Mode
    abstain_notice: str | None  # shown when the pipeline abstains before this answerer is asked

    def rewrite(self, question: str, history: History) -> str | None:
        """The follow-up ``question`` made standalone with ``history``; None leaves it as asked.

        Raises ``AnswerFault`` when it cannot.
        """
        ...

    def draft(self, plan: Plan, stream: bool) -> Generator[str, None, Draft]:
        """Yield text deltas while writing (when ``stream`` and the answerer can); return the ``Draft``.

        Raises ``AnswerFault`` when it cannot answer; the pipeline falls back to the extractive answerer.
        """
        ...


class AnswererFactory(Protocol):
    """How the registry builds an answerer: ``unavailable`` says why it cannot be built here, or None."""

    def __call__(self, settings: Settings) -> Answerer: ...

    def unavailable(self, settings: Settings) -> str | None: ...
