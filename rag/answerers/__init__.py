"""The answerers, by name, and the rule that picks one for a question.

A third answerer plugs in here: a class with the ``Answerer`` protocol (``rag.answerers.base``) and an
``unavailable(settings)`` class method, added to ``FACTORIES`` (and its name to ``AnswererName`` in
``rag.config`` so settings, the CLI and the UI offer it). Tests hand in their own answerers the same way,
through ``Answerers(settings, overrides={...})``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rag.answer import Mode
from rag.answerers.base import Answerer, AnswererFactory, Draft, History, Source
from rag.answerers.extractive import ExtractiveAnswerer
from rag.answerers.llm import LLMAnswerer
from rag.config import ANSWERERS, AnswererName, Settings
from rag.errors import OptionError

FACTORIES: dict[str, AnswererFactory] = {"extractive": ExtractiveAnswerer, "llm": LLMAnswerer}
OFFLINE = "Extractive answer (offline, no LLM configured): sentences quoted from the abstracts."
REQUESTED = "Extractive answer (as requested): sentences quoted from the abstracts."
FALLBACK = "Showing the extractive answer instead."


@dataclass(frozen=True)
class Choice:
    answerer: Answerer
    notice: str | None  # one line saying why this answerer answers, when it is not the one configured


class Answerers:
    """The answerers this assistant can use. Each is built once, at start-up (the LLM's prompts are checked
    then); one that cannot be built here (no model configured) is absent and says why."""

    def __init__(self, settings: Settings, overrides: Mapping[str, Answerer] | None = None) -> None:
        self.settings = settings
        self._ready: dict[str, Answerer] = dict(overrides or {})
        self._why_not: dict[str, str] = {}
        for name, factory in FACTORIES.items():
            if name in self._ready:
                continue
            why_not = factory.unavailable(settings)
            if why_not is None:
                self._ready[name] = factory(settings)
            else:
                self._why_not[name] = why_not

    @property
    def extractive(self) -> Answerer:
        """The answerer that always works: the default offline and the fallback on any fault."""
        return self._ready["extractive"]

    def choose(self, requested: AnswererName | str | None = None) -> Choice:
        """``auto``: the LLM when one is available, else extractive; ``llm``/``extractive``: that one if it can."""
        requested = requested or self.settings.answerer
        if requested not in ANSWERERS:
            raise OptionError(f"answerer {requested!r} is not one of {', '.join(ANSWERERS)}")
        llm = self._ready.get("llm")
        if requested == "extractive":
            return Choice(self.extractive, OFFLINE if llm is None else REQUESTED)
        if llm is not None:
            return Choice(llm, None)
        if requested == "llm":
            return Choice(self.extractive, f"{self._why_not['llm']}: extractive answer.")
        return Choice(self.extractive, OFFLINE)

    def planned_mode(self, requested: AnswererName | str | None = None) -> Mode:
        """The mode a question asked with ``requested`` will be answered in, unless a fault intervenes."""
        return self.choose(requested).answerer.mode


__all__ = ["FALLBACK", "Answerer", "Answerers", "Choice", "Draft", "History", "Source"]
