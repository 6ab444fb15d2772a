"""``Assistant``: the one pipeline every front end (CLI, UI, eval, Python) calls.

For one question::

    clean -> (rewrite a follow-up with the history) -> retrieve (rag.retrieve)
          -> decide: abstain, or plan the answer's shape and papers (rag.decide, rag.abstain)
          -> the chosen answerer drafts it (rag.answerers) -> citation check (rag.citations) -> Answer
          (an answerer's fault -> the extractive answer, with the fault as a one-line notice)

A question's options travel as one ``AskOptions``; ``stream`` returns an ``AnswerStream`` that yields
text deltas and then holds the final ``Answer``.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from rag import catalogue
from rag.answer import Answer, Mode, abstention
from rag.answerers import FALLBACK, Answerer, Answerers
from rag.citations import checked_answer
from rag.config import ANSWERERS, BUNDLED_CORPUS, RETRIEVERS, AnswererName, RetrieverName, Settings
from rag.corpus import Paper, load_corpus
from rag.decide import plan
from rag.embeddings import Embedder, shared_embedder
from rag.errors import AnswerFault, OptionError, QuestionError
from rag.evidence import asks_for_quantity, choose_quotes
from rag.ingest import IngestReport, Progress, ingest
from rag.retrieve import PaperHit, Retriever
from rag.spelling import read_as
from rag.store import ChunkStore, PaperRecord

Announce = Callable[[str], None]
MAX_K = 100


@dataclass(frozen=True)
class AskOptions:
    """How to answer one question; ``None`` means "as configured in Settings"."""

    k: int | None = None  # papers to retrieve
    retriever: RetrieverName | None = None
    answerer: AnswererName | None = None
    history: tuple[tuple[str, str], ...] = field(default=())  # earlier (user, assistant) turns

    def __post_init__(self) -> None:
        if self.k is not None and not 1 <= self.k <= MAX_K:
            raise OptionError(f"k={self.k} is out of range; ask for 1 to {MAX_K} papers.")
        if self.retriever is not None and self.retriever not in RETRIEVERS:
            raise OptionError(f"retriever {self.retriever!r} is not one of {', '.join(RETRIEVERS)}")
        if self.answerer is not None and self.answerer not in ANSWERERS:
            raise OptionError(f"answerer {self.answerer!r} is not one of {', '.join(ANSWERERS)}")
        object.__setattr__(self, "history", tuple((str(u or ""), str(a or "")) for u, a in self.history))


class AnswerStream:
    """Text deltas as the answer is written, then the final, checked ``Answer``.

    ``for delta in stream`` yields the deltas (none in extractive mode); ``stream.answer()`` finishes the
    question and returns the Answer, which replaces the streamed text (invalid citations removed,
    unsupported sentences marked, or the extractive fallback). ``close()`` (or ``with``) stops early.
    """

    def __init__(self, run: Generator[str, None, Answer]) -> None:
        self._run = run
        self._deltas: list[str] = []
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        if self._answer is not None:
            yield from self._deltas
            return
        while True:
            try:
                delta = next(self._run)
            except StopIteration as done:
                self._answer = done.value
                return
            self._deltas.append(delta)
            yield delta

    @property
    def text(self) -> str:
        """What has been streamed so far."""
        return "".join(self._deltas)

    def answer(self) -> Answer:
        for _ in self:
            pass
        assert self._answer is not None  # the pipeline always returns an Answer
        return self._answer

    def close(self) -> None:
        self._run.close()  # releases a model connection mid-stream

    def __enter__(self) -> AnswerStream:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True)
class Found:
    """A paper found for a query: its relevance, its support for the query, its best evidence sentence."""

    paper: PaperHit
    relevance: float
    support: float
    evidence: str


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
        answerers: Mapping[str, Answerer] | None = None,
    ) -> None:
        """``answerers`` replaces built-in answerers by name (tests plug in scripted ones this way)."""
        self.settings = settings or Settings()
        self.embedder = embedder or shared_embedder(self.settings.embed_batch_size, self.settings.embed_backend)
        self.store = ChunkStore(self.settings)
        self.retriever = Retriever(self.store, self.embedder, self.settings)
        self.announce = announce or (lambda message: None)
        self._indexed = False
        # Built (the LLM's prompt templates checked) at start-up; nothing is sent until a question is asked.
        self.answerers = Answerers(self.settings, answerers)

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

    def chunk_count(self) -> int:
        return self.store.count()

    def warm_up(self) -> None:
        """Load the embedding model and the keyword index before the first question."""
        if self.store.count():
            self.retriever.retrieve("warm up the retriever", k=1)

    # ------------------------------------------------------------ asking

    def ask(self, question: str, options: AskOptions | None = None) -> Answer:
        """Answer one question (the LLM's reply is not streamed)."""
        return AnswerStream(self._pipeline(question, options or AskOptions(), stream=False)).answer()

    def stream(self, question: str, options: AskOptions | None = None) -> AnswerStream:
        """Answer one question, yielding the model's text as it is written; ``.answer()`` gives the result.

        With ``options.history`` a follow-up is first rewritten to stand alone (LLM mode).
        """
        return AnswerStream(self._pipeline(question, options or AskOptions(), stream=True))

    def search(self, query: str, k: int | None = None) -> list[Found]:
        """The papers that best support ``query``, each with its best evidence sentence (no answer written)."""
        text, _ = clean_question(query, self.settings.max_question_chars)
        options = AskOptions(k=k)  # checks k like a question's
        self.ensure_indexed()
        retrieval = self.retriever.retrieve(text, k=options.k)
        planned = plan(retrieval, self.settings, self.retriever)
        found = []
        for item in planned.supports[: retrieval.k]:
            quote = " ".join(choose_quotes(planned.terms, item.paper, limit=1, wants_number=asks_for_quantity(text)))
            found.append(Found(item.paper, round(item.paper.relevance, 4), round(item.probability, 4), quote))
        return found

    def paper(self, paper_id: str) -> PaperRecord:
        """One indexed paper by id; ``QuestionError`` when there is none."""
        for record in self.papers():
            if record.id == paper_id:
                return record
        raise QuestionError(f"no indexed paper has the id {paper_id!r}; list the papers to see their ids.")

    def planned_mode(self, answerer: AnswererName | None = None) -> Mode:
        """The mode a question asked with ``answerer`` is answered in, unless a fault intervenes."""
        return self.answerers.planned_mode(answerer)

    def _pipeline(self, question: str, options: AskOptions, stream: bool) -> Generator[str, None, Answer]:
        started = time.perf_counter()
        text, truncated = clean_question(question, self.settings.max_question_chars)
        self.ensure_indexed()
        choice = self.answerers.choose(options.answerer)
        answerer, fault = choice.answerer, None
        rewritten = None
        if options.history:
            try:
                rewritten = answerer.rewrite(text, options.history)
            except AnswerFault as error:
                answerer, fault = self.answerers.extractive, error
        retrieval = self.retriever.retrieve(rewritten or text, k=options.k, mode=options.retriever)
        planned = plan(retrieval, self.settings, self.retriever)
        if planned.abstain_reason:
            retrieved = [p.title for p in planned.ranked]
            answer = abstention(text, retrieved, answerer.mode, planned.abstain_reason)
            answer.notice = answerer.abstain_notice
        else:
            try:
                draft = yield from answerer.draft(planned, stream)
                answer = checked_answer(draft, planned)
            except AnswerFault as error:
                fault = error
                answer = checked_answer((yield from self.answerers.extractive.draft(planned, stream)), planned)
        if fault is not None:
            answer.notice, answer.fault, answer.usage = f"{fault} {FALLBACK}", fault.kind, dict(fault.usage)
        else:
            answer.notice = " ".join(n for n in (choice.notice, answer.notice) if n) or None
        corrected = read_as(rewritten or text, retrieval.question)
        if corrected:
            answer.notice = f"{corrected} {answer.notice or ''}".strip()
        if truncated:
            answer.notice = f"{truncated} {answer.notice or ''}".strip()
        self._complete_abstracts(answer)
        answer.question = text
        answer.rewritten_question = rewritten
        answer.searched_question = retrieval.question if corrected else None
        answer.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        return answer

    def _complete_abstracts(self, answer: Answer) -> None:
        """Every citation carries its paper's whole abstract, so front ends can show the evidence in context."""
        missing = [c.paper_id for c in answer.citations if not c.abstract]
        if missing:
            texts = self.retriever.paper_texts(missing)
            for citation in answer.citations:
                citation.abstract = citation.abstract or texts.get(citation.paper_id, "").partition("\n")[2]


def open_assistant(settings: Settings | None = None, **overrides: object) -> Assistant:
    """``open_assistant()`` with the environment's settings, or ``open_assistant(top_k=5, ...)``."""
    if overrides:
        settings = (settings or Settings()).model_copy(update=overrides)
    return Assistant(settings)
