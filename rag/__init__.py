"""rag: cited answers over research-paper abstracts, offline by default.

The public names are imported lazily so that ``import rag`` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag import _offline

_offline.apply()

if TYPE_CHECKING:
    from rag.answer import Answer, Citation
    from rag.assistant import Assistant, open_assistant
    from rag.config import Settings

__all__ = ["Answer", "Assistant", "Citation", "Settings", "open_assistant"]

_HOMES = {
    "Answer": "rag.answer",
    "Citation": "rag.answer",
    "Assistant": "rag.assistant",
    "open_assistant": "rag.assistant",
    "Settings": "rag.config",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
