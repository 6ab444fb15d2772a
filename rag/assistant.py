"""``Assistant``: the one entry point every front end (CLI, UI, eval, Python) calls."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from rag import catalogue
from rag.answer import Answer
from rag.config import BUNDLED_CORPUS, Settings
from rag.corpus import Paper, load_corpus
from rag.embeddings import Embedder, shared_embedder
from rag.ingest import IngestReport, Progress, ingest
from rag.llm import LLMFault
from rag.llm_answer import LLMAnswerer, answer_stream
from rag.retrieve import Retriever
from rag.store import ChunkStore, PaperRecord


class QuestionError(ValueError):
    """A question that cannot be asked as it is; the message says how to fix it."""


Announce = Callable[[str], None]


def clean_question(question: str, max_chars: int) -> tuple[str, str | None]:
    """Strip control characters and whitespace; truncate an over-long question with a notice."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text.")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in question)
    text = " ".join(text.split())
    if not text:
        raise QuestionError("the question is empty; type a question about the papers.")
    if len(text) > max_chars:
        return text[:max_chars], f"Question truncated to its first {max_chars:,} characters."
    return text, None


class Assistant:
    def __init__(
        self,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        announce: Announce | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.embedder = embedder or shared_embedder(self.settings.embed_batch_size)
        self.store = ChunkStore(self.settings)
        self.retriever = Retriever(self.store, self.embedder, self.settings)
        self.announce = announce or (lambda message: None)
        self._indexed = False
        # Built (and its prompt templates checked) at start-up; it sends nothing until asked.
        self.llm = LLMAnswerer(self.settings) if self.settings.llm_configured else None

    # ------------------------------------------------------------ indexing

    def ingest_papers(
        self, papers: list[Paper], progress: Progress | None = None, rebuild: bool = False
    ) -> IngestReport:
        return ingest(papers, self.store, self.embedder, self.settings, progress=progress, rebuild=rebuild)

    def ingest_paths(
        self, paths: Iterable[str | Path], progress: Progress | None = None, rebuild: bool = False
    ) -> IngestReport:
        # Parse everything first: a malformed file raises before the store is touched.
        papers = load_corpus(paths)
        return self.ingest_papers(papers, progress=progress, rebuild=rebuild)

    def ensure_indexed(self, progress: Progress | None = None) -> IngestReport | None:
        """Index the bundled corpus when the store is empty (first question on a new machine)."""
        if self._indexed or self.store.count():  # counting scans the store: once it holds papers, stop asking
            self._indexed = True
            return None
        self.announce(f"The index is empty: indexing the bundled corpus ({BUNDLED_CORPUS.name}) first.")
        return self.ingest_paths([BUNDLED_CORPUS], progress=progress)

    def papers(self) -> list[PaperRecord]:
        return catalogue.list_papers(self.store, self.settings)

    # ------------------------------------------------------------ asking

    def ask(
        self,
        question: str,
        k: int | None = None,
        retriever: str | None = None,
        answerer: str | None = None,
    ) -> Answer:
        """Answer one question. ``answerer``: auto (the LLM when configured), llm or extractive."""
        for item in self._answer(question, k, retriever, answerer, None, stream=False):
            if isinstance(item, Answer):
                return item
        raise RuntimeError("the answerer produced no Answer")  # pragma: no cover

    def stream(
        self,
        question: str,
        k: int | None = None,
        retriever: str | None = None,
        answerer: str | None = None,
        history: Sequence[tuple[str, str]] | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the model's text deltas as they arrive, then exactly one final, checked ``Answer``.

        The final Answer replaces the streamed text (invalid citations removed, unsupported sentences
        marked, or the extractive fallback). In extractive mode only the Answer is yielded. ``history``:
        earlier (user, assistant) turns; in LLM mode the question is first rewritten to stand alone.
        """
        return self._answer(question, k, retriever, answerer, history, stream=True)

    def rewrite_question(self, question: str, history: Sequence[tuple[str, str]] | None) -> str:
        """The follow-up ``question`` made standalone using ``history`` (unchanged without LLM or history)."""
        if self.llm is None or not history:
            return question
        try:
            return self.llm.rewrite(question, history)
        except LLMFault:
            return question

    def _answer(
        self,
        question: str,
        k: int | None,
        retriever: str | None,
        answerer: str | None,
        history: Sequence[tuple[str, str]] | None,
        stream: bool,
    ) -> Iterator[str | Answer]:
        started = time.perf_counter()
        text, truncated = clean_question(question, self.settings.max_question_chars)
        self.ensure_indexed()
        answer = yield from answer_stream(
            text,
            settings=self.settings,
            retriever=self.retriever,
            llm=self.llm,
            k=k,
            retriever_mode=retriever,
            answerer=answerer,
            history=history,
            stream=stream,
        )
        if truncated:
            answer.notice = f"{truncated} {answer.notice or ''}".strip()
        answer.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        yield answer


def open_assistant(settings: Settings | None = None, **overrides: object) -> Assistant:
    """``open_assistant()`` with the environment's settings, or ``open_assistant(top_k=5, ...)``."""
    if overrides:
        settings = (settings or Settings()).model_copy(update=overrides)
    return Assistant(settings)
