"""The ``rag`` command: thin commands that parse options, call the library and print with rich."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rag.aclsum import Split
from rag.config import AnswererName, RetrieverName, Settings
from rag.errors import OptionError, RagError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Cited answers over research-paper abstracts.",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _settings(**overrides: Any) -> Settings:
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "RAG_" + str(first["loc"][0]).upper()
        raise OptionError(f"setting {name} is invalid ({first['msg']}); fix or unset it.") from None
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


def _help(name: str) -> str:
    """An option's help: the description of the setting it overrides (which names the allowed values)."""
    return str(Settings.model_fields[name].description)


Benchmark = Literal["aclsum"]
AnswerFormat = Literal["text", "markdown"]
PapersFormat = Literal["text", "jsonl", "bib", "csv"]
LOW_RELEVANCE = "Low relevance: the closest passages only partly match the question."

# ---------------------------------------------------------------- commands


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question about the papers.")],
    k: Annotated[int | None, typer.Option("--k", min=1, max=100, help="Papers to retrieve.")] = None,
    retriever: Annotated[RetrieverName | None, typer.Option(help=_help("retriever"))] = None,
    answerer: Annotated[AnswererName | None, typer.Option(help=_help("answerer"))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
    output: Annotated[
        AnswerFormat, typer.Option("--format", help="text, or markdown: \\[n] markers and a linked reference list.")
    ] = "text",
    bib: Annotated[
        Path | None, typer.Option("--bib", help="Also write the cited papers as BibTeX entries to this file.")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show token usage, latency, the citation check.")
    ] = False,
) -> None:
    """Ask a question; the answer cites the papers it came from (streamed when a model writes it)."""
    from rag.assistant import AskOptions

    settings = _settings()
    if answerer == "llm" and not settings.llm_configured:
        raise OptionError(
            "--answerer llm needs a model: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (a local server)."
        )
    assistant = _assistant(settings)
    if not assistant.store.count():
        with _progress("Indexing bundled corpus") as update:
            assistant.ensure_indexed(progress=update)
    options = AskOptions(k=k, retriever=retriever, answerer=answerer)
    if as_json or output == "markdown":
        answer = assistant.ask(question, options)
        if as_json:
            out.print_json(json.dumps(answer.to_dict(), ensure_ascii=False))
        else:
            from rag.export import answer_markdown

            out.print(answer_markdown(answer), markup=False, highlight=False, end="")
        _write_bib(answer, bib)
        return
    with assistant.stream(question, options) as stream:
        for delta in stream:
            out.print(delta, end="", markup=False, highlight=False)
        _print_answer(stream.answer(), stream.text, verbose)
        _write_bib(stream.answer(), bib)


def _write_bib(answer: Any, path: Path | None) -> None:
    if path is None:
        return
    from rag.export import Reference, bibtex

    try:
        path.write_text(bibtex(Reference.of(c) for c in answer.citations), encoding="utf-8")
    except OSError as error:
        raise OptionError(f"--bib {path}: cannot write it ({error.strerror or error}); pass a writable path.") from None
    err.print(
        f"[dim]Wrote {len(answer.citations)} BibTeX entr{'y' if len(answer.citations) == 1 else 'ies'} to "
        f"{escape(str(path))}.[/]"
    )


def _print_answer(answer: Any, streamed: str, verbose: bool) -> None:
    """After a streamed reply, add only what the citation check changed; else print the whole answer."""
    if answer.low_relevance:
        out.print(LOW_RELEVANCE)
    if streamed:
        out.print()
        if answer.mode == "llm" and answer.body.strip() == streamed.strip():
            rest = answer.text[len(answer.body) :].strip()
            if rest:
                out.print("\n" + escape(rest))
        else:
            label = "checked answer" if answer.mode == "llm" else "extractive answer"
            out.print(f"\n[dim]── {label} ──[/]")
            out.print(escape(answer.text))
    else:
        out.print(escape(answer.text))
    if answer.notice:
        err.print(f"[dim]{escape(answer.notice)}[/]")
    if verbose:
        for line in _details(answer):
            err.print(f"[dim]{escape(line)}[/]")


def _details(answer: Any) -> list[str]:
    """--verbose: the answer's mode, timing, token usage and every sentence the citation check flagged."""
    lines = [f"mode {answer.mode}, {answer.latency_ms:.0f} ms in total, {len(answer.citations)} citation(s)"]
    usage = answer.usage or {}
    if usage.get("total_tokens") is not None:
        estimated = " (estimated with tiktoken)" if usage.get("estimated") else ""
        first = f", first token after {usage['first_token_ms']:.0f} ms" if usage.get("first_token_ms") else ""
        lines.append(
            f"model {usage.get('model')}: {usage['prompt_tokens']} prompt + {usage['completion_tokens']} "
            f"completion = {usage['total_tokens']} tokens{estimated}; "
            f"model latency {usage['model_latency_ms']:.0f} ms{first}; "
            f"{usage.get('sources_sent')} sources sent, {usage.get('sources_dropped')} over the token budget"
        )
    elif usage:
        lines.append(
            f"model {usage.get('model')}: failed ({usage.get('fault')}) after {usage.get('model_latency_ms', 0):.0f} ms"
        )
    for verdict in answer.sentences:
        if verdict.citations and not verdict.supported:
            lines.append(f"unsupported: {verdict.sentence!r} ({verdict.reason})")
        elif not verdict.citations and verdict.reason == "uncited":
            lines.append(f"uncited: {verdict.sentence!r}")
    return lines


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Abstracts: Daily Papers .txt, .jsonl, .bib, .ris, CSL-JSON .json, .csv or .tsv files."),
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start from an empty index.")] = False,
) -> None:
    """Index abstracts (default: the bundled Daily Papers corpus). Safe to run again."""
    from rag.config import BUNDLED_CORPUS
    from rag.corpus import read_corpus

    files = list(paths or [BUNDLED_CORPUS])
    corpus = read_corpus(files)  # parse everything before touching the store
    skipped = corpus.skipped_line()
    if skipped:
        err.print(f"[yellow]{escape(skipped)}[/]")
    assistant = _assistant(_settings())
    with _progress("Embedding chunks") as update:
        report = assistant.ingest_papers(corpus.papers, progress=update, rebuild=rebuild)
    out.print(
        f"Ingested {report.papers_seen} papers from {len(files)} file(s): {report.papers_added} added, "
        f"{report.papers_updated} updated, {report.papers_unchanged} unchanged "
        f"({report.chunks_written} chunks written, {report.chunks_deleted} removed) in {report.seconds:.1f}s."
    )
    out.print(f"Index now holds {report.papers_total} papers in {report.chunks_total} chunks.")


@app.command()
def papers(
    output: Annotated[
        PapersFormat, typer.Option("--format", help="text (id and title), or an export: jsonl, bib or csv.")
    ] = "text",
) -> None:
    """List the indexed papers (id and title), or export the collection in a format `rag ingest` reads back."""
    assistant = _assistant(_settings())
    if output != "text":
        from rag import export

        writers = {"jsonl": export.papers_jsonl, "bib": export.papers_bibtex, "csv": export.papers_csv}
        out.file.write(writers[output](assistant.papers()))
        return
    for record in assistant.papers():
        out.print(f"{record.id}  {escape(record.title)}")


@app.command()
def info() -> None:
    """Where the index lives, what it holds, which models answer."""
    from rag.catalogue import list_papers
    from rag.embeddings import MODEL_NAME
    from rag.store import ChunkStore

    settings = _settings()
    store = ChunkStore(settings)
    chunks = store.count()
    paper_count = len(list_papers(store, settings)) if chunks else 0
    rows = [
        ("store", f"{'Chroma server ' if settings.chroma_url else 'embedded Chroma '}{store.location}"),
        ("collection", settings.collection),
        ("papers", str(paper_count)),
        ("chunks", str(chunks)),
        ("keyword index", str(settings.bm25_path)),
        ("embedding model", MODEL_NAME),
        ("retriever", settings.retriever),
    ]
    from rag.llm.client import describe

    rows += describe(settings)  # model, endpoint, API key masked
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        out.print(f"{name:<{width}}  {escape(value)}")


@app.command(name="eval")
def eval_command(
    gold: Annotated[Path, typer.Option(help="Gold questions (JSONL).")] = Path("eval/gold.jsonl"),
    benchmark: Annotated[
        Benchmark | None,
        typer.Option(help="Instead of --gold: a benchmark with its own collection (aclsum: ACL paper summaries)."),
    ] = None,
    split: Annotated[
        Split, typer.Option(help="The benchmark's split: develop on train, choose on val, report test once.")
    ] = "val",
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Where results.json and report.md go (default eval/reports/…).")
    ] = None,
    retriever: Annotated[RetrieverName, typer.Option(help=_help("retriever"))] = "hybrid",
    answerer: Annotated[AnswererName, typer.Option(help=_help("answerer"))] = "extractive",
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Papers retrieved per question.")] = 10,
    compare: Annotated[
        bool, typer.Option("--compare", help="Also run dense, BM25 and a llama-index baseline.")
    ] = False,
    faithfulness: Annotated[
        bool, typer.Option("--faithfulness", help="Judge answers with llama-index's faithfulness evaluator (LLM).")
    ] = False,
) -> None:
    """Score the assistant on gold questions; print a table by kind and write a report."""
    from rag import evaluate
    from rag.assistant import AskOptions

    settings = _settings()
    if benchmark == "aclsum":
        from rag import aclsum

        golds = aclsum.questions(split)
        collection = aclsum.collection()
        assistant = _assistant(aclsum.benchmark_settings(settings))
        with _progress("Indexing the ACLSum collection") as update:
            assistant.ingest_papers(collection, progress=update)  # unchanged papers are skipped
        source = f"--benchmark aclsum --split {split}"
        out_dir = out_dir or Path(f"eval/reports/aclsum-{split}")
    else:
        from rag.config import BUNDLED_CORPUS
        from rag.corpus import load_corpus

        golds = evaluate.load_gold(gold)
        assistant = _assistant(settings)
        if not assistant.store.count():
            with _progress("Indexing bundled corpus") as update:
                assistant.ensure_indexed(progress=update)
        collection = load_corpus([BUNDLED_CORPUS])
        source = f"--gold {gold}"
        out_dir = out_dir or Path("eval/reports/latest")
    command = f"rag eval {source} --retriever {retriever} --answerer {answerer} --k {k}"
    name = f"aclsum:{split}" if benchmark else str(gold)
    config = {"gold": name, "retriever": retriever, "answerer": answerer, "k": k, "command": command}

    def ask_with(mode: RetrieverName):  # noqa: ANN202
        options = AskOptions(k=k, retriever=mode, answerer=answerer)
        return lambda q: assistant.ask(q, options)

    judge = None
    if faithfulness:
        if not assistant.settings.llm_configured:
            raise OptionError("--faithfulness needs an LLM: set OPENAI_API_KEY and/or OPENAI_BASE_URL.")
        judge = evaluate.faithfulness_judge(assistant.settings)
        config["faithfulness"] = True
    with _progress(f"Evaluating ({retriever})") as update:
        results = evaluate.run_eval(golds, ask_with(retriever), config, progress=update, judge=judge)
    baselines = None
    if compare:
        baselines = {}
        for mode in ("dense", "bm25", "hybrid"):
            if mode == retriever:
                baselines[mode] = results
                continue
            with _progress(f"Baseline {mode}") as update:
                baselines[mode] = evaluate.run_eval(golds, ask_with(mode), {**config, "retriever": mode}, update)
        from rag.baseline import LlamaIndexBaseline

        peer = LlamaIndexBaseline(collection, top_k=k)
        with _progress("Baseline llama-index") as update:
            baselines["llama-index default"] = evaluate.run_eval(golds, peer.ask, {**config, "retriever": "li"}, update)
    evaluate.write_report(results, out_dir, baselines)
    _print_eval(results, baselines)
    out.print(f"Wrote {out_dir / 'results.json'} and {out_dir / 'report.md'}.")


def _print_eval(results: dict[str, Any], baselines: dict[str, dict[str, Any]] | None) -> None:
    from rich.table import Table

    from rag import evaluate

    columns = evaluate.shown_columns(evaluate.KIND_COLUMNS, list(results["by_kind"].values()))
    table = Table(title="By kind")
    table.add_column("kind")
    for column in columns:
        table.add_column(column, justify="right")
    for kind, values in results["by_kind"].items():
        table.add_row(kind, *[evaluate._fmt(values.get(c)) for c in columns])
    table.add_row("all", *[evaluate._fmt(results["summary"].get(c)) for c in columns])
    out.print(table)
    summary = Table(title="Summary" + (" vs baselines" if baselines else ""))
    summary.add_column("metric")
    runs = {"this run": results, **(baselines or {})}
    for name in runs:
        summary.add_column(name, justify="right")
    for metric in evaluate.shown_columns(evaluate.SUMMARY_COLUMNS, [r["summary"] for r in runs.values()]):
        summary.add_row(metric, *[evaluate._fmt(r["summary"].get(metric)) for r in runs.values()])
    out.print(summary)


@app.command(name="ui")
def ui_command(
    host: Annotated[str | None, typer.Option(help="Address to bind (127.0.0.1; others need --auth).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default 7860).")] = None,
    auth: Annotated[str | None, typer.Option(help="user:password to log in (or RAG_UI_AUTH).")] = None,
) -> None:
    """Open the chat UI: answers with their evidence, the paper collection, the latest evaluation."""
    import ipaddress
    import socket

    settings = _settings()
    host = host or settings.ui_host
    port = port or settings.ui_port
    secret = auth if auth is not None else (settings.ui_auth.get_secret_value() if settings.ui_auth else None)
    credentials = None
    if secret is not None:
        user, _, password = secret.partition(":")
        if not user or not password:
            raise OptionError("--auth / RAG_UI_AUTH must be user:password with both parts non-empty.")
        credentials = (user, password)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if credentials is None and not loopback:
        raise OptionError(
            f"binding the UI to {host} opens it to the network: set RAG_UI_AUTH=user:password "
            "or pass --auth user:password (or bind 127.0.0.1)."
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself will
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OptionError(
                f"cannot listen on {host}:{port} ({error.strerror or error}); pass --port with a free port."
            ) from None
    assistant = _assistant(settings)
    if not assistant.store.count():
        with _progress("Indexing bundled corpus") as update:
            assistant.ensure_indexed(progress=update)
    from ui.app import launch  # gradio is imported only here

    announce = lambda message: err.print(escape(message))  # noqa: E731
    launch(settings, host, port, auth=credentials, assistant=assistant, announce=announce)


@app.command(name="mcp")
def mcp_command(
    http: Annotated[
        int | None, typer.Option("--http", min=1, max=65535, help="Serve streamable HTTP on 127.0.0.1:PORT.")
    ] = None,
) -> None:
    """Serve the assistant to MCP clients (Claude Desktop, VS Code, Cursor) over stdio, or HTTP on loopback."""
    from rag.mcp_server import serve

    assistant = _assistant(_settings())  # notices go to stderr: stdout carries the protocol
    if not assistant.store.count():
        assistant.ensure_indexed()
    serve(assistant, http)


# ---------------------------------------------------------------- entry point


def main() -> None:
    try:
        app()  # typer handles usage errors itself (exit code 2)
    except RagError as error:
        err.print(f"[red]Error:[/] {escape(str(error))}")
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)


if __name__ == "__main__":
    main()
