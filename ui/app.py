"""Starting the Gradio app: ``launch`` builds the page (``ui.layout``) over a ``ChatService`` and serves it.

A thin layer over ``rag.Assistant``: the UI never retrieves or answers by itself. Every string from the
corpus or the model goes through ``ui.render``, which escapes it, so it is shown as text and never run as
HTML. Modules: ``service`` (the Assistant and the UI's state), ``handlers`` (event handlers), ``layout``
(components and wiring), ``render`` (answers to markdown and HTML), ``evalview``, ``static/``.
"""

from __future__ import annotations

import sys
from typing import Any

from rag.assistant import Assistant
from rag.config import Settings
from ui.layout import build_app, launch_kwargs
from ui.service import ChatService

__all__ = ["build_app", "launch"]


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
    service = ChatService(settings, assistant)
    say("Loading the embedding model\u2026")
    service.warm_up()
    demo = build_app(settings, service)
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
