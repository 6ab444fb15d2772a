"""The UI's event handlers: plain functions over a ``ChatService``, testable without a browser.

Each returns (or yields) the values of the components it updates; ``ui.layout`` wires them to the page.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import traceback
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from rag.assistant import AskOptions
from rag.errors import RagError
from rag.export import Reference, answer_markdown, bibtex
from ui import evalview, render
from ui.service import ChatService, with_note


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
    service: ChatService,
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

    try:
        options = AskOptions(
            k=int(k), retriever=retriever or None, answerer=answerer or None, history=_history_pairs(history)
        )
        stream, note = service.stream(question, options)
        with stream:
            for _ in stream:
                chat[-1] = {"role": "assistant", "content": render.streaming_markdown(stream.text)}
                yield list(chat), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            answer = with_note(stream.answer(), note)
    except RagError as error:
        chat[-1] = {"role": "assistant", "content": "\u26a0 " + render.md_text(str(error))}
        yield list(chat), gr.skip(), history, turns, gr.skip(), gr.skip(), gr.skip()
        return
    except Exception as error:  # keep the UI alive; the full trace goes to the server log
        traceback.print_exc(file=sys.stderr)
        message = f"Something went wrong while answering ({error.__class__.__name__}: {error})."
        chat[-1] = {"role": "assistant", "content": "\u26a0 " + render.md_text(message)}
        yield list(chat), gr.skip(), history, turns, gr.skip(), gr.skip(), gr.skip()
        return

    chat[-1] = {"role": "assistant", "content": render.chat_markdown(answer, turn, asked=question)}
    history += [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer.body or answer.text},
    ]
    turns = [*turns, render.Turn(turn, question, answer)][-render.MAX_TURNS_KEPT :]
    yield (
        chat,
        gr.skip(),
        history,
        turns,
        render.sources_html(turns),
        render.badge_html(service.settings, service.planned_mode(answerer or None), answer),
        answer.text,
    )


def papers_view(service: ChatService, query: str, refresh: bool = False) -> tuple[str, list[list[Any]]]:
    records = service.papers(refresh=refresh)
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


# Each export gets its own folder (the download buttons serve files by path); only the newest few are kept,
# so a long-running UI does not fill the temp directory.
KEPT_EXPORTS = 8
_exports: deque[Path] = deque()
_exports_lock = threading.Lock()


def _export_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="rag-export-"))
    with _exports_lock:
        _exports.append(folder)
        while len(_exports) > KEPT_EXPORTS:
            shutil.rmtree(_exports.popleft(), ignore_errors=True)
    return folder


def export_files(turns: list[render.Turn]) -> tuple[Any, Any]:
    """The newest answer as a Markdown file and its cited papers as a BibTeX file, for the download buttons."""
    if not turns:
        return gr.update(value=None, interactive=False), gr.update(value=None, interactive=False)
    answer = turns[-1].answer
    folder = _export_folder()
    markdown = folder / f"answer-{turns[-1].turn}.md"
    markdown.write_text(answer_markdown(answer), encoding="utf-8")
    if not answer.citations:
        return gr.update(value=str(markdown), interactive=True), gr.update(value=None, interactive=False)
    references = folder / f"references-{turns[-1].turn}.bib"
    references.write_text(bibtex(Reference.of(c) for c in answer.citations), encoding="utf-8")
    return gr.update(value=str(markdown), interactive=True), gr.update(value=str(references), interactive=True)
