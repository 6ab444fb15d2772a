"""``ChatService``: what the UI's event handlers call. The Assistant, plus the little state the UI keeps
(the paper list cache, whether an upload is being indexed). No gradio here."""

from __future__ import annotations

import dataclasses
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from rag.answer import Answer, Mode
from rag.assistant import AnswerStream, AskOptions, Assistant
from rag.config import AnswererName, Settings
from rag.corpus import read_corpus
from rag.errors import RagError
from rag.store import PaperRecord
from ui import render

DURING_INGEST = "Papers are being added: this answer used dense retrieval only."
Progress = Callable[..., None]  # gradio's Progress: progress((done, total), desc=..., unit=...)


class ChatService:
    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.settings = settings
        self.assistant = assistant or Assistant(settings)
        self.ingest_lock = threading.Lock()
        self.ingesting = threading.Event()
        self._papers: list[PaperRecord] | None = None
        self._papers_count = -1
        self._papers_lock = threading.Lock()

    # ------------------------------------------------------------ answering

    def _while_ingesting(self, options: AskOptions) -> tuple[AskOptions, str | None]:
        """The keyword index is rebuilt at the end of an ingest; until then ask the dense index only."""
        if self.ingesting.is_set() and (options.retriever or self.settings.retriever) != "dense":
            return dataclasses.replace(options, retriever="dense"), DURING_INGEST
        return options, None

    def stream(self, question: str, options: AskOptions) -> tuple[AnswerStream, str | None]:
        """The answer's stream, and a note to add to its notice (None when there is nothing to say)."""
        options, note = self._while_ingesting(options)
        return self.assistant.stream(question, options), note

    def ask(self, question: str, options: AskOptions) -> Answer:
        stream, note = self.stream(question, options)
        return with_note(stream.answer(), note)

    def planned_mode(self, answerer: AnswererName | None = None) -> Mode:
        return self.assistant.planned_mode(answerer)

    # ------------------------------------------------------------ papers

    def papers(self, refresh: bool = False) -> list[PaperRecord]:
        """The indexed papers, cached until the store's chunk count changes (another process may ingest)."""
        with self._papers_lock:
            count = self.assistant.chunk_count()
            if self._papers is None or refresh or count != self._papers_count:
                self._papers = self.assistant.papers() if count else []
                self._papers_count = count
            return self._papers

    def warm_up(self) -> None:
        """Load the embedding model and keyword index before the first question (best effort)."""
        try:
            self.assistant.warm_up()
        except Exception:  # the first question will report whatever is wrong
            pass

    def ingest_files(self, paths: list[str], progress: Progress) -> str:
        """Parse every file first (a malformed file changes nothing), then index; returns a status line."""
        names = {path: Path(path).name for path in paths}

        def shown(message: str) -> str:
            for path, name in names.items():
                message = message.replace(path, name)
            return message

        try:
            corpus = read_corpus(paths)
        except RagError as error:
            return f"\u26a0 **Nothing was added.** {render.md_text(shown(str(error)))}"
        papers = [
            dataclasses.replace(p, source=f"upload: {names.get(p.source, Path(p.source).name)}") for p in corpus.papers
        ]
        skipped = shown(corpus.skipped_line() or "")

        def update(done: int, total: int) -> None:
            if total:
                progress((done, total), desc="Embedding chunks", unit="chunks")

        with self.ingest_lock:
            self.ingesting.set()
            try:
                progress(0, desc=f"Indexing {len(papers)} papers")
                report = self.assistant.ingest_papers(papers, progress=update)
            except RagError as error:
                return f"\u26a0 **Indexing failed.** {render.md_text(str(error))}"
            except Exception as error:  # keep the UI alive; the full trace goes to the server log
                traceback.print_exc(file=sys.stderr)
                why = f"{error.__class__.__name__}: {error}"
                return f"\u26a0 **Indexing failed** ({render.md_text(why)}); the server log has the details."
            finally:
                self.ingesting.clear()
                self.papers(refresh=True)
        files = ", ".join(sorted(set(names.values())))
        return render.md_text(
            f"\u2714 Read {report.papers_seen} paper(s) from {files}: {report.papers_added} added, "
            f"{report.papers_updated} updated, {report.papers_unchanged} unchanged "
            f"({report.chunks_written} chunks embedded in {report.seconds:.1f} s). "
            f"The index now holds {report.papers_total} papers in {report.chunks_total} chunks."
            + (f" {skipped}" if skipped else "")
        )


def with_note(answer: Answer, note: str | None) -> Answer:
    if note:
        answer.notice = f"{note} {answer.notice or ''}".strip()
    return answer
