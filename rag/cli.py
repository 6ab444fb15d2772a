"""The ``rag`` command: thin commands that parse options, call the library and print with rich."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rag.config import Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Cited answers over research-paper abstracts.",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class UserError(Exception):
    """Ends the command with one line on stderr and exit code 2."""


def _settings(**overrides: Any) -> Settings:
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "RAG_" + str(first["loc"][0]).upper()
        raise UserError(f"setting {name} is invalid ({first['msg']}); fix or unset it.") from None
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})


@contextmanager
def _progress(label: str):  # noqa: ANN202 - yields a (done, total) callback
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal and not _force_progress(),
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield update


def _force_progress() -> bool:
    import os

    return os.environ.get("RAG_PROGRESS") == "1"


def _assistant(settings: Settings):  # noqa: ANN202
    from rag.assistant import Assistant

    return Assistant(settings, announce=lambda message: err.print(f"[yellow]{escape(message)}[/]"))


# ---------------------------------------------------------------- commands


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question about the papers.")],
    k: Annotated[int | None, typer.Option("--k", min=1, max=100, help="Papers to retrieve.")] = None,
    retriever: Annotated[str | None, typer.Option(help="hybrid, dense or bm25.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
) -> None:
    """Ask a question; the answer cites the papers it came from."""
    if retriever and retriever not in {"hybrid", "dense", "bm25"}:
        raise UserError(f"--retriever {retriever!r} is not one of hybrid, dense, bm25.")
    assistant = _assistant(_settings())
    if not assistant.store.count():
        with _progress("Indexing bundled corpus") as update:
            assistant.ensure_indexed(progress=update)
    answer = assistant.ask(question, k=k, retriever=retriever)
    if as_json:
        out.print_json(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    if answer.notice:
        err.print(f"[dim]{escape(answer.notice)}[/]")
    out.print(escape(answer.text))


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Daily Papers .txt, .jsonl or .bib files.")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start from an empty index.")] = False,
) -> None:
    """Index abstracts (default: the bundled Daily Papers corpus). Safe to run again."""
    from rag.config import BUNDLED_CORPUS
    from rag.corpus import load_corpus

    files = list(paths or [BUNDLED_CORPUS])
    papers = load_corpus(files)  # parse everything before touching the store
    assistant = _assistant(_settings())
    with _progress("Embedding chunks") as update:
        report = assistant.ingest_papers(papers, progress=update, rebuild=rebuild)
    out.print(
        f"Ingested {report.papers_seen} papers from {len(files)} file(s): {report.papers_added} added, "
        f"{report.papers_updated} updated, {report.papers_unchanged} unchanged "
        f"({report.chunks_written} chunks written, {report.chunks_deleted} removed) in {report.seconds:.1f}s."
    )
    out.print(f"Index now holds {report.papers_total} papers in {report.chunks_total} chunks.")


@app.command()
def papers() -> None:
    """List the indexed papers: id and title."""
    assistant = _assistant(_settings())
    for record in assistant.papers():
        out.print(f"{record.id}  {escape(record.title)}")


@app.command()
def info() -> None:
    """Where the index lives, what it holds, which models answer."""
    from rag.config import mask_secret
    from rag.embeddings import MODEL_NAME
    from rag.store import ChunkStore

    settings = _settings()
    store = ChunkStore(settings)
    chunks = store.count()
    paper_count = len(store.papers()) if chunks else 0
    rows = [
        ("store", f"{'Chroma server ' if settings.chroma_url else 'embedded Chroma '}{store.location}"),
        ("collection", settings.collection),
        ("papers", str(paper_count)),
        ("chunks", str(chunks)),
        ("keyword index", str(settings.bm25_path)),
        ("embedding model", MODEL_NAME),
        ("retriever", settings.retriever),
    ]
    if settings.llm_configured:
        rows += [
            ("LLM", f"{settings.llm_model} at {settings.llm_base_url or 'https://api.openai.com/v1'}"),
            ("API key", mask_secret(settings.openai_api_key)),
        ]
    else:
        rows.append(("LLM", "not configured (extractive answers, offline)"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        out.print(f"{name:<{width}}  {escape(value)}")


# ---------------------------------------------------------------- entry point


def main() -> None:
    from rag.assistant import QuestionError
    from rag.corpus import CorpusError
    from rag.store import StoreError

    try:
        app()  # typer handles usage errors itself (exit code 2)
    except (UserError, CorpusError, StoreError, QuestionError) as error:
        err.print(f"[red]Error:[/] {escape(str(error))}")
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)


if __name__ == "__main__":
    main()
