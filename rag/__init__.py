"""rag: cited answers over research-paper abstracts, offline by default.

The public names are imported lazily so that ``import rag`` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag import _offline

_offline.apply()

if TYPE_CHECKING:
    from rag.answer import Answer, Citation, Mode
    from rag.assistant import AnswerStream, AskOptions, Assistant, open_assistant
    from rag.config import Settings
    from rag.errors import RagError

__all__ = [
    "Answer",
    "AnswerStream",
    "AskOptions",
    "Assistant",
    "Citation",
    "Mode",
    "RagError",
    "Settings",
    "open_assistant",
]

_HOMES = {
    "Answer": "rag.answer",
    "Citation": "rag.answer",
    "Mode": "rag.answer",
    "AnswerStream": "rag.assistant",
    "AskOptions": "rag.assistant",
    "Assistant": "rag.assistant",
    "open_assistant": "rag.assistant",
    "Settings": "rag.config",
    "RagError": "rag.errors",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
