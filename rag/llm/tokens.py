"""Token counting for the prompt budget: tiktoken, from llama-index's bundled cache (never downloaded)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from rag.config import Settings

if TYPE_CHECKING:
    import tiktoken

BUNDLED_ENCODINGS = ("o200k_base", "cl100k_base")  # in llama-index's tiktoken cache


def reply_tokens(settings: Settings) -> int:
    """Tokens kept free for the reply inside ``RAG_LLM_CONTEXT_TOKENS``."""
    return min(1024, settings.llm_context_tokens // 4)


def prompt_budget(settings: Settings) -> int:
    return settings.llm_context_tokens - reply_tokens(settings)


@lru_cache(maxsize=8)
def encoding(model: str) -> tiktoken.Encoding:
    """The model's tiktoken encoding when it is bundled, else cl100k_base (an estimate for other models)."""
    import tiktoken
    from tiktoken.model import encoding_name_for_model

    try:
        name = encoding_name_for_model(model)
    except KeyError:
        name = "cl100k_base"
    return tiktoken.get_encoding(name if name in BUNDLED_ENCODINGS else "cl100k_base")


def count_tokens(text: str, model: str) -> int:
    return len(encoding(model).encode(text, disallowed_special=()))


def count_message_tokens(messages: Sequence[tuple[str, str]], model: str) -> int:
    """Prompt tokens of a chat request, OpenAI's way: content plus a few per message."""
    return sum(4 + count_tokens(content, model) for _, content in messages) + 3


def truncate_tokens(text: str, limit: int, model: str) -> str:
    enc = encoding(model)
    tokens = enc.encode(text, disallowed_special=())
    return text if len(tokens) <= limit else enc.decode(tokens[: max(0, limit)]).rstrip() + " …"
