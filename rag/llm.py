"""The chat model behind the LLM answerer: any OpenAI-compatible endpoint, configured from settings alone.

* OpenAI models at api.openai.com go through llama-index's ``OpenAI``; any other base URL or model name
  (Ollama, vLLM, llama.cpp server, LM Studio, proxies) through ``OpenAILike``. Both use one ``openai``
  client built here with the configured timeout.
* Retries are bounded and ours alone (llama-index's and the SDK's are switched off, so they never nest):
  connection errors, timeouts, 408/409/429 and 5xx are retried ``RAG_LLM_MAX_RETRIES`` times with
  exponential backoff, honouring a short ``Retry-After``.
* Every failure becomes an ``LLMFault`` whose message is one line saying what failed and what to check.
  Messages never contain the API key.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from rag.config import Settings, mask_secret

if TYPE_CHECKING:
    import tiktoken
    from llama_index.core.llms import LLM

log = logging.getLogger(__name__)

OPENAI_API = "https://api.openai.com/v1"
NO_KEY = "no-key-required"  # local servers accept any key, the openai client insists on one
RETRY_AFTER_CAP = 10.0  # a server asking us to wait longer than this gets a notice instead
BUNDLED_ENCODINGS = ("o200k_base", "cl100k_base")  # in llama-index's tiktoken cache


class LLMFault(Exception):
    """The model could not give an answer. ``str(fault)`` is one line for the user (no secrets)."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        # connection, timeout, auth, forbidden, model, rate_limit, server, request, empty, malformed
        self.kind = kind
        self.message = message
        self.status = status


@dataclass
class Completion:
    text: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float
    first_token_ms: float | None
    attempts: int


# ---------------------------------------------------------------- configuration


def endpoint(settings: Settings) -> str:
    """The base URL requests go to, for display: no user:password, no query string."""
    url = settings.llm_base_url or OPENAI_API
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", "")) or url


def _api_key(settings: Settings) -> str:
    return settings.openai_api_key.get_secret_value() if settings.openai_api_key else NO_KEY


def uses_openai_class(settings: Settings) -> bool:
    """llama-index ``OpenAI`` for OpenAI's own models at OpenAI; ``OpenAILike`` for everything else."""
    from llama_index.llms.openai.utils import openai_modelname_to_contextsize

    if settings.llm_base_url and urlsplit(settings.llm_base_url).hostname != "api.openai.com":
        return False
    try:
        openai_modelname_to_contextsize(settings.llm_model)
    except ValueError:
        return False
    return True


def reply_tokens(settings: Settings) -> int:
    """Tokens kept free for the reply inside ``RAG_LLM_CONTEXT_TOKENS``."""
    return min(1024, settings.llm_context_tokens // 4)


def prompt_budget(settings: Settings) -> int:
    return settings.llm_context_tokens - reply_tokens(settings)


def build_llm(settings: Settings, flavour: str | None = None) -> LLM:
    """A llama-index LLM for the configured endpoint (no network traffic until it is asked)."""
    import openai
    from llama_index.llms.openai import OpenAI
    from llama_index.llms.openai.utils import O1_MODELS
    from llama_index.llms.openai_like import OpenAILike

    key = _api_key(settings)
    base = (settings.llm_base_url or OPENAI_API).rstrip("/")
    client = openai.OpenAI(api_key=key, base_url=base, timeout=settings.llm_timeout, max_retries=0)
    reasoning = settings.llm_model in O1_MODELS  # their max_tokens also counts hidden reasoning
    common: dict[str, Any] = {
        "model": settings.llm_model,
        "api_key": key,
        "api_base": base,
        "timeout": settings.llm_timeout,
        "max_retries": 0,  # ours (ChatModel.run) are the only retries
        "temperature": 0.0,
        "max_tokens": None if reasoning else reply_tokens(settings),
        "openai_client": client,
        "additional_kwargs": {"stream_options": {"include_usage": True}},  # usage in the last SSE chunk
    }
    flavour = flavour or ("openai" if uses_openai_class(settings) else "openai_like")
    if flavour == "openai":
        try:
            return OpenAI(**common)
        except ValueError:  # a model llama-index's OpenAI does not accept for chat completions
            pass
    return OpenAILike(
        **common,
        is_chat_model=True,
        is_function_calling_model=False,
        context_window=settings.llm_context_tokens,
    )


def describe(settings: Settings) -> list[tuple[str, str]]:
    """Rows for ``rag info``: which model, which endpoint, the key masked."""
    if not settings.llm_configured:
        return [("LLM", "not configured (extractive answers, offline)")]
    kind = "OpenAI" if uses_openai_class(settings) else "OpenAI-compatible (OpenAILike)"
    key = mask_secret(settings.openai_api_key)
    return [
        ("LLM", f"{settings.llm_model} via {kind}"),
        ("LLM endpoint", endpoint(settings)),
        ("API key", key),
        (
            "LLM limits",
            f"timeout {settings.llm_timeout:g}s, {settings.llm_max_retries} retries, "
            f"{settings.llm_context_tokens} context tokens",
        ),
        ("answerer", settings.answerer),
    ]


# ---------------------------------------------------------------- tokens


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


# ---------------------------------------------------------------- calling


def _retry_after(error: Exception) -> float | None:
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except ValueError:
        return None
    return None


class ChatModel:
    """One configured chat model; ``run`` sends a conversation and returns the reply (streamed or not)."""

    def __init__(self, settings: Settings, llm: LLM | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.llm = llm or build_llm(settings)
        self.model = settings.llm_model
        self.endpoint = endpoint(settings)
        self._sleep = sleep

    def run(self, messages: Sequence[tuple[str, str]], stream: bool = False) -> Generator[str, None, Completion]:
        """Yield text deltas (when streaming) and return the ``Completion``; raise ``LLMFault``."""
        from llama_index.core.base.llms.types import ChatMessage

        chat = [ChatMessage(role=role, content=content) for role, content in messages]
        started = time.perf_counter()
        attempts = 0
        while True:
            attempts += 1
            try:
                if stream:
                    chunks = self.llm.stream_chat(chat)
                    first = next(chunks, None)  # the request is sent here: failures before it are retried
                else:
                    response = self.llm.chat(chat)
                break
            except Exception as error:  # noqa: BLE001 - classified below, never shown as a traceback
                delay = self._retry_delay(error, attempts)
                if delay is None:
                    raise self.fault(error, attempts) from None
                log.info("LLM request failed (%s); retry %d in %.2fs", type(error).__name__, attempts, delay)
                self._sleep(delay)
        first_token_ms: float | None = None
        usage: dict[str, Any] = {}
        model = self.model
        if stream:
            parts: list[str] = []
            try:
                chunk = first
                while chunk is not None:
                    if chunk.delta:
                        if first_token_ms is None:
                            first_token_ms = (time.perf_counter() - started) * 1000
                        parts.append(chunk.delta)
                        yield chunk.delta
                    usage = {**usage, **{k: v for k, v in (chunk.additional_kwargs or {}).items() if v}}
                    model = getattr(chunk.raw, "model", None) or model
                    chunk = next(chunks, None)
            except Exception as error:  # noqa: BLE001 - a stream cut off half-way
                raise self.fault(error, attempts) from None
            finally:
                chunks.close()  # also when the reader stops early: release the connection
            text = "".join(parts)
        else:
            try:
                text = response.message.content or ""
                usage = dict(response.additional_kwargs or {})
                model = getattr(response.raw, "model", None) or model
            except Exception as error:  # noqa: BLE001
                raise self.fault(error, attempts) from None
        if not text.strip():
            raise LLMFault("empty", f"The model {self.model!r} at {self.endpoint} sent an empty reply.")
        return Completion(
            text=text,
            model=str(model),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            first_token_ms=round(first_token_ms, 1) if first_token_ms is not None else None,
            attempts=attempts,
        )

    def complete(self, messages: Sequence[tuple[str, str]]) -> Completion:
        """The non-streaming reply."""
        generator = self.run(messages, stream=False)
        while True:
            try:
                next(generator)
            except StopIteration as done:
                return done.value

    # ------------------------------------------------------------ faults

    def _retry_delay(self, error: Exception, attempt: int) -> float | None:
        import httpx
        import openai

        if attempt > self.settings.llm_max_retries:
            return None
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            if status not in (408, 409, 429) and status < 500:
                return None
            if getattr(error, "code", None) == "insufficient_quota":
                return None
            wait = _retry_after(error)
            if wait is not None:
                return wait if 0 <= wait <= RETRY_AFTER_CAP else None
        elif not isinstance(error, openai.APIConnectionError | httpx.TransportError):
            return None
        return min(0.5 * 2 ** (attempt - 1), 8.0) * (1 - 0.25 * random.random())

    def _redact(self, text: str) -> str:
        key = self.settings.openai_api_key.get_secret_value() if self.settings.openai_api_key else ""
        if key:
            text = text.replace(key, "***")
        text = re.sub(r"\b(sk-[A-Za-z0-9_\-]{4})[A-Za-z0-9_\-]{8,}", r"\1…", text)
        text = " ".join(text.split())
        return text if len(text) <= 160 else text[:157] + "…"

    def fault(self, error: Exception, attempts: int = 1) -> LLMFault:
        """Turn any failure of a request into one line that says what failed and what to check."""
        import httpx
        import openai

        where = self.endpoint
        model = self.model
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        log.debug("LLM request failed: %s", type(error).__name__)  # never the message: it may echo a key
        if isinstance(error, LLMFault):
            return error
        if isinstance(error, openai.APITimeoutError | httpx.TimeoutException):
            return LLMFault(
                "timeout",
                f"The LLM at {where} did not answer within RAG_LLM_TIMEOUT={self.settings.llm_timeout:g}s"
                f"{tries}; check the server or raise RAG_LLM_TIMEOUT.",
            )
        if isinstance(error, openai.APIConnectionError | httpx.TransportError):
            cause = " ".join(str(error.__cause__ or error).split()).lower()
            why = "connection refused" if "refused" in cause else "connection failed"
            return LLMFault(
                "connection",
                f"Could not reach the LLM at {where} ({why}{tries}); check OPENAI_BASE_URL / "
                "RAG_LLM_BASE_URL and that the server is running.",
            )
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            detail = self._redact(_error_message(error))
            if status == 401:
                if self.settings.openai_api_key is None:
                    return LLMFault("auth", f"The LLM at {where} requires an API key (401); set OPENAI_API_KEY.", 401)
                return LLMFault("auth", f"OPENAI_API_KEY was rejected (401) by {where}; check the key.", 401)
            if status == 403:
                return LLMFault(
                    "forbidden",
                    f"OPENAI_API_KEY may not use model {model!r} at {where} (403); check the key's access "
                    "or RAG_LLM_MODEL.",
                    403,
                )
            if status == 404:
                return LLMFault(
                    "model",
                    f"Model {model!r} was not found at {where} (404); check RAG_LLM_MODEL and that the "
                    "base URL ends in /v1.",
                    404,
                )
            if status == 429:
                if getattr(error, "code", None) == "insufficient_quota":
                    return LLMFault(
                        "rate_limit",
                        f"The account behind OPENAI_API_KEY is out of quota (429) at {where}; check its billing.",
                        429,
                    )
                wait = _retry_after(error)
                later = f"wait {wait:g}s" if wait and wait > RETRY_AFTER_CAP else "wait a moment"
                return LLMFault(
                    "rate_limit",
                    f"The LLM at {where} is rate-limiting requests (429){tries}; {later} or raise RAG_LLM_MAX_RETRIES.",
                    429,
                )
            if status >= 500:
                return LLMFault(
                    "server",
                    f"The LLM server at {where} failed with HTTP {status}{tries}; check the server and its logs.",
                    status,
                )
            return LLMFault(
                "request",
                f"The LLM at {where} rejected the request (HTTP {status}{': ' + detail if detail else ''}); "
                "check RAG_LLM_MODEL and RAG_LLM_CONTEXT_TOKENS.",
                status,
            )
        if isinstance(error, openai.APIError):  # an error event in a stream, a reply failing validation
            detail = self._redact(_error_message(error))
            return LLMFault(
                "malformed",
                f"The LLM at {where} sent an error or an unreadable reply "
                f"({detail or type(error).__name__}); check that it serves the OpenAI chat-completions API.",
            )
        return LLMFault(
            "malformed",
            f"The LLM at {where} sent a reply that is not an OpenAI chat completion "
            f"({type(error).__name__}); check that the base URL points at an OpenAI-compatible /v1 API.",
        )


def _error_message(error: Exception) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(error, "message", "") or "")


__all__ = [
    "ChatModel",
    "Completion",
    "LLMFault",
    "build_llm",
    "count_message_tokens",
    "count_tokens",
    "describe",
    "endpoint",
    "prompt_budget",
]
