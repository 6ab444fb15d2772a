"""The page: components, their layout, and the wiring of events to ``ui.handlers``.

The choices offered (retriever, answerer) come from ``rag.config``'s allowed values; static CSS and
JavaScript live in ``ui/static``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import gradio as gr

from rag.assistant import AskOptions
from rag.config import ANSWERERS, RETRIEVERS, Settings
from rag.corpus import SUFFIXES
from rag.errors import RagError
from ui import render
from ui.handlers import eval_chart, eval_outputs, export_files, papers_view, respond
from ui.service import ChatService

EXAMPLES = [
    "Which papers say chain-of-thought hurts performance?",
    "What throughput improvement does AsyncFlow report?",
    "How can a model learn to refuse questions it cannot answer?",
    "Compare LIMO and DeepDistill",
    "What is the boiling point of mercury?",  # not in the abstracts: the assistant says so
]
UPLOAD_TYPES = list(SUFFIXES)
TITLE = "Cited answers over research-paper abstracts"


@lru_cache(maxsize=8)
def static_text(name: str) -> str:
    """A file of ``ui/static`` (CSS, JavaScript), as shipped with the package."""
    return resources.files("ui").joinpath("static", name).read_text(encoding="utf-8")


def launch_kwargs() -> dict[str, Any]:
    """What ``Blocks.launch`` needs besides the address: the CSS, the citation-link script, the theme."""
    head = f"<script>\n{static_text('citations.js')}</script>"
    return {"css": static_text("app.css"), "head": head, "theme": gr.themes.Default(primary_hue="indigo")}


def build_app(settings: Settings | None = None, service: ChatService | None = None) -> gr.Blocks:
    settings = settings or (service.settings if service else Settings())
    service = service or ChatService(settings)

    def badge_for(answerer: str | None = None) -> str:
        return render.badge_html(settings, service.planned_mode(answerer or None))

    with gr.Blocks(title="rag \u2014 cited answers", fill_width=True) as demo:
        with gr.Row(elem_id="rag-header", equal_height=True):
            gr.Markdown(
                f"## {TITLE}\nEvery answer cites the papers it comes from; the evidence is shown beside it.",
                elem_id="rag-title",
            )
            badge = gr.HTML(badge_for(), elem_id="rag-badge")

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
                        with gr.Row():
                            download_md = gr.DownloadButton(
                                "Download answer (.md)", size="sm", elem_id="rag-download-md", interactive=False
                            )
                            download_bib = gr.DownloadButton(
                                "Download references (.bib)", size="sm", elem_id="rag-download-bib", interactive=False
                            )
                        copy_text = gr.Textbox(visible="hidden", elem_id="rag-copy-text", interactive=False)
                        with gr.Accordion("Settings", open=False, elem_id="rag-settings"):
                            top_k = gr.Slider(1, 30, value=settings.top_k, step=1, label="Papers to retrieve (k)")
                            retriever = gr.Radio(
                                list(RETRIEVERS),
                                value=settings.retriever,
                                label="Retriever",
                                info=Settings.model_fields["retriever"].description,
                            )
                            answerer = gr.Radio(
                                list(ANSWERERS),
                                value=settings.answerer,
                                label="Answerer",
                                info=Settings.model_fields["answerer"].description,
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
                        label="Add papers: Daily Papers .txt, .jsonl, .bib, .ris, CSL-JSON .json, .csv or .tsv",
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
            yield from respond(service, q, chat, hist, trn, k, ret, ans)

        def on_example(sample, chat, hist, trn, k, ret, ans):  # noqa: ANN001, ANN202
            q = sample[0] if isinstance(sample, list | tuple) and sample else str(sample or "")
            yield from respond(service, q, chat, hist, trn, k, ret, ans)

        downloads = [download_md, download_bib]
        export_opts: dict[str, Any] = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
        question.submit(on_question, chat_inputs, chat_outputs, **answer_opts).then(
            export_files, turns, downloads, **export_opts
        )
        send.click(on_question, chat_inputs, chat_outputs, **answer_opts).then(
            export_files, turns, downloads, **export_opts
        )
        examples.click(on_example, [examples, *chat_inputs[1:]], chat_outputs, **answer_opts).then(
            export_files, turns, downloads, **export_opts
        )

        def on_clear():  # noqa: ANN202
            return [], [], [], render.sources_html([]), "", badge_for(), *export_files([])

        clear_outputs = [chatbot, history, turns, sources, copy_text, badge, *downloads]
        clear.click(on_clear, None, clear_outputs, queue=False, api_visibility="private")
        chatbot.clear(on_clear, None, clear_outputs, queue=False, api_visibility="private")
        answerer.change(
            badge_for,
            answerer,
            badge,
            queue=False,
            api_visibility="private",
        )
        copy.click(None, copy_text, None, js=static_text("copy.js"), api_visibility="private")

        def on_papers(query, refresh=False):  # noqa: ANN001, ANN202
            return papers_view(service, query, refresh)

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
            status = service.ingest_files(paths, progress)
            count, rows = papers_view(service, query)
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
            return (*papers_view(service, query, refresh=True), *eval_outputs())

        demo.load(on_load, search, [paper_count, paper_table, *eval_outputs_list], api_visibility="private")

        # ------------------------------------------------------------ API: the fields of `rag ask --json`
        def ask(question: str, k: int = 0, retriever: str = "", answerer: str = "") -> dict:
            """Ask a question; returns the Answer as a dict, exactly like `rag ask --json`."""
            try:
                options = AskOptions(k=k or None, retriever=retriever or None, answerer=answerer or None)
                return service.ask(question, options).to_dict()
            except RagError as error:
                raise gr.Error(str(error)) from None

        gr.api(ask, api_name="ask", concurrency_limit=2, concurrency_id="answer")

        def papers() -> list[dict]:
            """The indexed papers: id, title, url, source, chunks."""
            return [
                {"id": r.id, "title": r.title, "url": r.url, "source": r.source, "chunks": r.chunks}
                for r in service.papers()
            ]

        gr.api(papers, api_name="papers")

    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo
