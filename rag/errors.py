"""One base for every error a user can cause or fix: ``RagError``.

Its message is one line that names the input and says what to do about it, so each front end catches
``RagError`` once and shows ``str(error)``: the CLI prints it and exits with code 2, the UI shows it in
the chat, the Python API lets it propagate.
"""

from __future__ import annotations


class RagError(Exception):
    """A problem with the input, the settings or the store; ``str()`` is one line, never a traceback.

    ``hint`` (optional) is the fix, kept apart so a front end can show it on its own; ``str()`` joins them.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message.rstrip('.;')}; {hint}" if hint else message)


class OptionError(RagError):
    """A setting or an option whose value cannot be used (``RAG_*`` variables, CLI options, UI choices)."""


class QuestionError(RagError):
    """A question that cannot be asked as it is; the message says how to fix it."""


class AnswerFault(RagError):
    """An answerer could not give an answer (a model unreachable, a reply citing nothing).

    The pipeline shows the extractive answer instead, with this one-line message as its notice. ``kind``
    names the fault for front ends; ``usage`` is what the attempt cost (model, latency, tokens).
    """

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.usage: dict[str, object] = {}
