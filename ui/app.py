"""The Gradio app: chat with the evidence beside every answer, the paper collection, the latest evaluation.

A thin layer over ``rag.Assistant``: it never retrieves or answers by itself. Every string from the corpus
or the model goes through ``ui.render``, which escapes it, so it is shown as text and never run as HTML.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from rag.answer import Answer
from rag.assistant import Assistant, QuestionError
from rag.config import Settings
from rag.corpus import CorpusError, load_corpus
from rag.store import StoreError
from ui import evalview, render
from ui.style import CSS

EXAMPLES = [
    "Which papers say chain-of-thought hurts performance?",
    "What throughput improvement does AsyncFlow report?",
    "How can a model learn to refuse questions it cannot answer?",
    "Compare LIMO and DeepDistill",
    "What is the boiling point of mercury?",  # not in the abstracts: the assistant says so
]
UPLOAD_TYPES = [".txt", ".jsonl", ".ndjson", ".json", ".bib", ".bibtex"]
TITLE = "Cited answers over research-paper abstracts"


def _accepted(fn: Any, **kwargs: Any) -> dict[str, Any]:
    """The keyword arguments ``fn`` accepts (the Assistant's API grows while the UI stays the same)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


class Backend:
    """What the UI's event handlers call: the Assistant, plus the little state the UI keeps."""

    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.settings = settings
        self.assistant = assistant or Assistant(settings)
        self.ingest_lock = threading.Lock()
        self.ingesting = threading.Event()
        self._papers: list[Any] | None = None
        self._papers_count = -1
        self._papers_lock = threading.Lock()

    # ------------------------------------------------------------ answering

    def _options(self, k: int | None, retriever: str | None) -> tuple[dict[str, Any], str | None]:
        note = None
        if self.ingesting.is_set() and (retriever or self.settings.retriever) != "dense":
            # The keyword index is rebuilt at the end of an ingest; until then ask the dense index only.
            retriever, note = "dense", "Papers are being added: this answer used dense retrieval only."
        return {"k": int(k) if k else None, "retriever": retriever or None}, note

    def answer_events(
        self,
        question: str,
        k: int | None = None,
        retriever: str | None = None,
        answerer: str | None = None,
        history: list[tuple[str, str]] | None = None,
    ) -> Iterator[str | Answer]:
        """Text deltas (LLM streaming), then exactly one ``Answer``. ``history``: (user, assistant) turns."""
        options, note = self._options(k, retriever)
        stream = getattr(self.assistant, "stream", None)
        if callable(stream):
            extra = _accepted(stream, answerer=answerer or None, history=history or None)
            events = stream(question, **options, **extra)
        else:
            extra = _accepted(self.assistant.ask, answerer=answerer or None)
            events = iter([self.assistant.ask(question, **options, **extra)])
        for event in events:
            if isinstance(event, Answer) and note:
                event.notice = f"{note} {event.notice or ''}".strip()
            yield event

    def ask(
        self, question: str, k: int | None = None, retriever: str | None = None, answerer: str | None = None
    ) -> Answer:
        options, note = self._options(k, retriever)
        answer = self.assistant.ask(question, **options, **_accepted(self.assistant.ask, answerer=answerer or None))
        if note:
            answer.notice = f"{note} {answer.notice or ''}".strip()
        return answer

    def abstracts(self, answer: Answer) -> dict[str, str]:
        """Full abstract of every cited paper, for the cards' "Full abstract" section."""
        known = {c.paper_id: c.abstract for c in answer.citations if c.abstract}
        missing = [c.paper_id for c in answer.citations if not c.abstract]
        try:
            texts = self.assistant.retriever.paper_texts(missing) if missing else {}
        except Exception:  # the cards still show the evidence without it
            texts = {}
        return {**{pid: text.split("\n", 1)[1] if "\n" in text else text for pid, text in texts.items()}, **known}

    # ------------------------------------------------------------ papers

    def papers(self, refresh: bool = False) -> list[Any]:
        """The indexed papers, cached until the store's chunk count changes (another process may ingest)."""
        with self._papers_lock:
            count = self.assistant.store.count()
            if self._papers is None or refresh or count != self._papers_count:
                self._papers = self.assistant.papers() if count else []
                self._papers_count = count
            return self._papers

    def warm_up(self) -> None:
        """Load the embedding model and keyword index before the first question (best effort)."""
        try:
            if self.assistant.store.count():
                self.assistant.retriever.retrieve("warm up the retriever", k=1)
        except Exception:  # the first question will report whatever is wrong
            pass

    def ingest_files(self, paths: list[str], progress: Any) -> str:
        """Parse every file first (a malformed file changes nothing), then index; returns a status line."""
        names = {path: Path(path).name for path in paths}

        def shown(message: str) -> str:
            for path, name in names.items():
                message = message.replace(path, name)
            return message

        try:
            papers = load_corpus(paths)
        except CorpusError as error:
            return f"\u26a0 **Nothing was added.** {render.md_text(shown(str(error)))}"
        papers = [dataclasses.replace(p, source=f"upload: {names.get(p.source, Path(p.source).name)}") for p in papers]

        def update(done: int, total: int) -> None:
            if total:
                progress((done, total), desc="Embedding chunks", unit="chunks")

        with self.ingest_lock:
            self.ingesting.set()
            try:
                progress(0, desc=f"Indexing {len(papers)} papers")
                report = self.assistant.ingest_papers(papers, progress=update)
            except StoreError as error:
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
        )


# ---------------------------------------------------------------- event handlers (pure-ish, testable)


def _history_pairs(history: list[dict[str, str]]) -> list[tuple[str, str]]:
    """The conversation so far as (user, assistant) turns, the shape ``Assistant.stream`` takes."""
    pairs: list[tuple[str, str]] = []
    for message in history:
        if message.get("role") == "user":
            pairs.append((message.get("content", ""), ""))
        elif message.get("role") == "assistant" and pairs and not pairs[-1][1]:
            pairs[-1] = (pairs[-1][0], message.get("content", ""))
    return pairs[-6:]


def respond(
    backend: Backend,
    question: str,
    chat: list[dict[str, Any]],
    history: list[dict[str, str]],
    turns: list[render.Turn],
    k: float,
    retriever: str,
    answerer: str,
) -> Iterator[tuple[Any, ...]]:
    """Stream one question's answer into the chat; at the end fill the sources panel and the badge.

    Yields (chat, textbox, history, turns, sources, badge, copy text).
    """
    question = (question or "").strip()
    chat = list(chat or [])
    history = list(history or [])
    turns = list(turns or [])
    if not question:
        yield list(chat), "", history, turns, gr.skip(), gr.skip(), gr.skip()
        return
    turn = (turns[-1].turn + 1) if turns else 1
    chat.append({"role": "user", "content": render.md_text(question)})
    chat.append({"role": "assistant", "content": "_Searching the papers\u2026_"})
    yield list(chat), "", history, turns, gr.skip(), gr.skip(), gr.skip()

    partial = ""
    answer: Answer | None = None
    try:
        for event in backend.answer_events(question, int(k), retriever, answerer, _history_pairs(history)):
            if isinstance(event, Answer):
                answer = event
            elif event:
                partial += str(event)
                chat[-1] = {"role": "assistant", "content": render.streaming_markdown(partial)}
                yield list(chat), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    except (QuestionError, StoreError) as error:
        chat[-1] = {"role": "assistant", "content": "\u26a0 " + render.md_text(str(error))}
        yield list(chat), gr.skip(), history, turns, gr.skip(), gr.skip(), gr.skip()
        return
    except Exception as error:  # keep the UI alive; the full trace goes to the server log
        traceback.print_exc(file=sys.stderr)
        message = f"Something went wrong while answering ({error.__class__.__name__}: {error})."
        chat[-1] = {"role": "assistant", "content": "\u26a0 " + render.md_text(message)}
        yield list(chat), gr.skip(), history, turns, gr.skip(), gr.skip(), gr.skip()
        return
    if answer is None:
        chat[-1] = {
            "role": "assistant",
            "content": "\u26a0 The assistant returned no answer; please try again.",
        }
        yield list(chat), gr.skip(), history, turns, gr.skip(), gr.skip(), gr.skip()
        return

    chat[-1] = {"role": "assistant", "content": render.chat_markdown(answer, turn, asked=question)}
    history += [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer.body or answer.text},
    ]
    turns = [*turns, render.Turn(turn, question, answer, backend.abstracts(answer))][-render.MAX_TURNS_KEPT :]
    yield (
        chat,
        gr.skip(),
        history,
        turns,
        render.sources_html(turns),
        render.badge_html(backend.settings, answer, answerer),
        answer.text,
    )


def papers_view(backend: Backend, query: str, refresh: bool = False) -> tuple[str, list[list[Any]]]:
    records = backend.papers(refresh=refresh)
    needle = (query or "").casefold().strip()
    shown = [
        r
        for r in records
        if not needle or needle in r.title.casefold() or needle in r.id or needle in (r.source or "").casefold()
    ]
    chunks = sum(r.chunks for r in records)
    if needle:
        count = f"**{len(shown)}** of **{len(records)}** papers match \u201c{render.md_text(query.strip())}\u201d"
    else:
        count = f"**{len(records)}** papers"
    count += f" \u00b7 {chunks} chunks indexed"
    by_source = Counter(Path(r.source).name if r.source else "unknown" for r in records)
    if by_source:
        count += " \u00b7 " + ", ".join(f"{render.md_text(name)}: {n}" for name, n in by_source.most_common(6))
    rows = [[r.title, Path(r.source).name if r.source else "", r.chunks, r.url or "", r.id] for r in shown]
    return count, rows


def eval_outputs(reports_dir: Path = evalview.REPORTS_DIR) -> tuple[Any, ...]:
    """(caption markdown, summary table update, metric dropdown update, bar chart update)."""
    import pandas as pd

    view = evalview.load_view(reports_dir)
    if view.path is None or view.error or not view.summary:
        message = view.error or evalview.NO_REPORT
        if view.path and not view.error:
            message = f"{view.path} holds no summary metrics; run `rag eval` again."
        return (
            render.md_text(message),
            gr.update(visible=False),
            gr.update(visible=False),
            gr.update(visible=False),
        )
    headers, rows = view.table()
    shown_config = {k: v for k, v in view.config.items() if k != "command" and isinstance(v, str | int | float)}
    caption = f"Report: `{view.path.parent.name}/results.json`"
    if view.questions:
        caption += f" \u00b7 {view.questions} questions"
    if shown_config:
        caption += " \u00b7 " + render.md_text(", ".join(f"{k}={v}" for k, v in shown_config.items()))
    metrics = [m for m in view.metrics if m != "questions" and view.chart_rows(m)]
    metric = next((m for m in PREFERRED_METRICS if m in metrics), metrics[0] if metrics else None)
    return (
        caption,
        gr.update(value=pd.DataFrame(rows, columns=headers), visible=True),
        gr.update(choices=metrics, value=metric, visible=bool(metrics)),
        _chart_update(view, metric, visible=bool(metrics)),
    )


PREFERRED_METRICS = ("recall@10", "citation_f1", "mrr", "fact_recall")


def _chart_update(view: evalview.EvalView, metric: str | None, visible: bool = True) -> Any:
    import pandas as pd

    rows = view.chart_rows(metric) if metric else []
    values = [r["value"] for r in rows]
    unit_scale = bool(values) and all(0 <= v <= 1 for v in values)
    return gr.update(
        value=pd.DataFrame(rows, columns=["kind", "value"]),
        visible=visible,
        title=f"{metric} by kind of question" if metric else None,
        y_lim=[0, 1] if unit_scale else [0, None],
    )


def eval_chart(metric: str, reports_dir: Path = evalview.REPORTS_DIR) -> Any:
    return _chart_update(evalview.load_view(reports_dir), metric)


# ---------------------------------------------------------------- the app


def build_app(settings: Settings | None = None, backend: Backend | None = None) -> gr.Blocks:
    settings = settings or (backend.settings if backend else Settings())
    backend = backend or Backend(settings)

    with gr.Blocks(title="rag \u2014 cited answers", fill_width=True) as demo:
        with gr.Row(elem_id="rag-header", equal_height=True):
            gr.Markdown(
                f"## {TITLE}\nEvery answer cites the papers it comes from; the evidence is shown beside it.",
                elem_id="rag-title",
            )
            badge = gr.HTML(render.badge_html(settings), elem_id="rag-badge")

        history = gr.State([])
        turns = gr.State([])

        with gr.Tabs(elem_id="rag-tabs"):
            with gr.Tab("Chat", id="chat", elem_id="rag-tab-chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=360):
                        chatbot = gr.Chatbot(
                            elem_id="rag-chat",
                            label="Conversation",
                            height=520,
                            latex_delimiters=[],
                            sanitize_html=True,
                            allow_tags=False,
                            feedback_options=None,
                            buttons=[],
                            placeholder="Ask about the indexed papers, or click an example below.",
                        )
                        with gr.Row(equal_height=True):
                            question = gr.Textbox(
                                elem_id="rag-question",
                                show_label=False,
                                placeholder="Ask a question about the papers\u2026",
                                lines=1,
                                max_lines=4,
                                scale=6,
                                autofocus=True,
                            )
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="rag-ask")
                        examples = gr.Dataset(
                            label="Examples",
                            components=["textbox"],
                            samples=[[q] for q in EXAMPLES],
                            elem_id="rag-examples",
                            layout="gallery",
                        )
                        with gr.Row():
                            copy = gr.Button("Copy answer with references", size="sm", elem_id="rag-copy")
                            clear = gr.Button("Clear chat", size="sm", elem_id="rag-clear")
                        copy_text = gr.Textbox(visible="hidden", elem_id="rag-copy-text", interactive=False)
                        with gr.Accordion("Settings", open=False, elem_id="rag-settings"):
                            top_k = gr.Slider(1, 30, value=settings.top_k, step=1, label="Papers to retrieve (k)")
                            retriever = gr.Radio(
                                ["hybrid", "dense", "bm25"],
                                value=settings.retriever,
                                label="Retriever",
                                info="hybrid = dense embeddings + BM25 keywords, fused",
                            )
                            answerer = gr.Radio(
                                ["auto", "llm", "extractive"],
                                value=settings.answerer,
                                label="Answerer",
                                info="auto uses the LLM when one is configured, else quotes the abstracts",
                            )
                    with gr.Column(scale=2, min_width=320):
                        gr.Markdown("### Sources", elem_id="rag-sources-title")
                        sources = gr.HTML(render.sources_html([]), elem_id="rag-sources-panel", js_on_load=None)

            with gr.Tab("Papers", id="papers", elem_id="rag-tab-papers"):
                paper_count = gr.Markdown(elem_id="rag-paper-count")
                with gr.Row():
                    search = gr.Textbox(
                        show_label=False,
                        placeholder="Search titles, ids or sources\u2026",
                        scale=3,
                        elem_id="rag-paper-search",
                    )
                    upload = gr.File(
                        label="Add papers: Daily-Papers .txt dump, .jsonl or .bib",
                        file_count="multiple",
                        file_types=UPLOAD_TYPES,
                        scale=2,
                        height=120,
                        elem_id="rag-upload",
                    )
                upload_status = gr.Markdown(elem_id="rag-upload-status")
                paper_table = gr.Dataframe(
                    headers=["title", "source", "chunks", "link", "id"],
                    datatype=["str", "str", "number", "str", "str"],
                    interactive=False,
                    wrap=True,
                    max_height=600,
                    column_widths=["50%", "14%", "8%", "16%", "12%"],
                    elem_id="rag-paper-table",
                )

            with gr.Tab("Evaluation", id="evaluation", elem_id="rag-tab-eval"):
                eval_caption = gr.Markdown(elem_id="rag-eval-caption")
                eval_table = gr.Dataframe(interactive=False, visible=False, elem_id="rag-eval-table")
                eval_metric = gr.Dropdown(label="Metric", visible=False, elem_id="rag-eval-metric")
                eval_plot = gr.BarPlot(
                    x="kind",
                    y="value",
                    visible=False,
                    elem_id="rag-eval-plot",
                    y_title="score",
                    x_title="kind",
                    height=320,
                )
                eval_refresh = gr.Button("Reload report", size="sm")

        # ------------------------------------------------------------ wiring
        chat_inputs = [question, chatbot, history, turns, top_k, retriever, answerer]
        chat_outputs = [chatbot, question, history, turns, sources, badge, copy_text]
        answer_opts: dict[str, Any] = {
            "concurrency_limit": 2,
            "concurrency_id": "answer",
            "api_visibility": "private",
        }

        def on_question(q, chat, hist, trn, k, ret, ans):  # noqa: ANN001, ANN202 - gradio passes values
            yield from respond(backend, q, chat, hist, trn, k, ret, ans)

        def on_example(sample, chat, hist, trn, k, ret, ans):  # noqa: ANN001, ANN202
            q = sample[0] if isinstance(sample, list | tuple) and sample else str(sample or "")
            yield from respond(backend, q, chat, hist, trn, k, ret, ans)

        question.submit(on_question, chat_inputs, chat_outputs, **answer_opts)
        send.click(on_question, chat_inputs, chat_outputs, **answer_opts)
        examples.click(on_example, [examples, *chat_inputs[1:]], chat_outputs, **answer_opts)

        def on_clear():  # noqa: ANN202
            return [], [], [], render.sources_html([]), "", render.badge_html(settings)

        clear_outputs = [chatbot, history, turns, sources, copy_text, badge]
        clear.click(on_clear, None, clear_outputs, queue=False, api_visibility="private")
        chatbot.clear(on_clear, None, clear_outputs, queue=False, api_visibility="private")
        answerer.change(
            lambda a: render.badge_html(settings, None, a),
            answerer,
            badge,
            queue=False,
            api_visibility="private",
        )
        copy.click(None, copy_text, None, js=COPY_JS, api_visibility="private")

        def on_papers(query, refresh=False):  # noqa: ANN001, ANN202
            return papers_view(backend, query, refresh)

        search.change(
            on_papers,
            search,
            [paper_count, paper_table],
            concurrency_limit=None,
            api_visibility="private",
            show_progress="hidden",
        )

        def on_upload(files, query, progress=gr.Progress()):  # noqa: ANN001, ANN202, B008 - gradio's idiom
            paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
            if not paths:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            status = backend.ingest_files(paths, progress)
            count, rows = papers_view(backend, query)
            return status, count, rows, None

        upload.upload(
            lambda: "Reading the file(s)\u2026",
            None,
            upload_status,
            queue=False,
            api_visibility="private",
            show_progress="hidden",
        ).then(
            on_upload,
            [upload, search],
            [upload_status, paper_count, paper_table, upload],
            concurrency_limit=1,
            concurrency_id="ingest",
            api_visibility="private",
            show_progress_on=[upload_status],
        )

        eval_outputs_list = [eval_caption, eval_table, eval_metric, eval_plot]
        eval_refresh.click(eval_outputs, None, eval_outputs_list, api_visibility="private")
        eval_metric.change(eval_chart, eval_metric, eval_plot, api_visibility="private", show_progress="hidden")

        def on_load(query):  # noqa: ANN001, ANN202
            return (*papers_view(backend, query, refresh=True), *eval_outputs())

        demo.load(on_load, search, [paper_count, paper_table, *eval_outputs_list], api_visibility="private")

        # ------------------------------------------------------------ API: the fields of `rag ask --json`
        def ask(question: str, k: int = 0, retriever: str = "", answerer: str = "") -> dict:
            """Ask a question; returns the Answer as a dict, exactly like `rag ask --json`."""
            try:
                return backend.ask(question, k or None, retriever or None, answerer or None).to_dict()
            except (QuestionError, StoreError, ValueError) as error:  # ValueError: an unknown option
                raise gr.Error(str(error)) from None

        gr.api(ask, api_name="ask", concurrency_limit=2, concurrency_id="answer")

        def papers() -> list[dict]:
            """The indexed papers: id, title, url, source, chunks."""
            return [
                {"id": r.id, "title": r.title, "url": r.url, "source": r.source, "chunks": r.chunks}
                for r in backend.papers()
            ]

        gr.api(papers, api_name="papers")

    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


COPY_JS = """
(text) => {
  if (!text) { return []; }
  const done = () => {
    const button = document.getElementById("rag-copy");
    if (button) { const label = button.textContent; button.textContent = "Copied \u2713";
                  setTimeout(() => { button.textContent = label; }, 1500); }
  };
  const fallback = () => {
    const area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); done(); } finally { area.remove(); }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else { fallback(); }
  return [];
}
"""

HEAD = """
<script>
(() => {
  if (window.__ragCitations) return;
  window.__ragCitations = true;
  // [n] markers in an answer link to #src-<turn>-<n>: show that turn's sources and bring card n into view.
  document.addEventListener("click", (event) => {
    const link = event.target && event.target.closest ? event.target.closest("a[href*='#src-']") : null;
    if (!link) return;
    const id = (link.getAttribute("href") || "").split("#").pop();
    if (!/^src-[0-9]+-[0-9]+$/.test(id)) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById(id);
    if (!card) return;
    const group = card.closest(".rag-src-group");
    document.querySelectorAll(".rag-src-group")
      .forEach((g) => g.classList.toggle("rag-active-group", g === group));
    document.querySelectorAll(".rag-src-card.rag-focus").forEach((c) => c.classList.remove("rag-focus"));
    card.classList.add("rag-focus");
    card.scrollIntoView({ behavior: "auto", block: "nearest" });
  }, true);
})();
</script>
"""


def launch_kwargs() -> dict[str, Any]:
    return {"css": CSS, "head": HEAD, "theme": gr.themes.Default(primary_hue="indigo")}


def launch(
    settings: Settings,
    host: str,
    port: int,
    auth: tuple[str, str] | None = None,
    assistant: Assistant | None = None,
    announce: Any = None,
) -> None:
    """Start the server and block until Ctrl+C.

    ``share`` is always off: the UI is never published through a tunnel. The embedding model is loaded
    before the server opens, so the first question is as fast as the next.
    """
    say = announce or (lambda message: print(message, file=sys.stderr))
    backend = Backend(settings, assistant)
    say("Loading the embedding model\u2026")
    backend.warm_up()
    demo = build_app(settings, backend)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        share=False,
        inbrowser=False,
        show_error=True,
        max_file_size="200mb",
        footer_links=["api"],
        quiet=True,
        ssr_mode=False,
        prevent_thread_lock=True,
        **launch_kwargs(),
    )
    shown = f"[{host}]" if ":" in host else host
    say(
        f"Chat UI ready on http://{shown}:{port}"
        + (" (password protected)" if auth else "")
        + " \u2014 Ctrl+C stops it."
    )
    demo.block_thread()
