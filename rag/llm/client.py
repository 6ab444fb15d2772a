"""The chat model behind the LLM answerer: any OpenAI-compatible endpoint, configured from settings alone.

* OpenAI models at api.openai.com go through llama-index's ``OpenAI``; any other base URL or model name
  (Ollama, vLLM, llama.cpp server, LM Studio, proxies) through ``OpenAILike``. Both use one ``openai``
  client built here with the configured timeout.
* Retries are bounded and ours alone (llama-index's and the SDK's are switched off, so they never nest):
  connection errors, timeouts, 408/409/429 and 5xx are retried ``RAG_LLM_MAX_RETRIES`` times with
  exponential backoff, honouring a short ``Retry-After``.
* Every failure becomes an ``LLMFault`` (``rag.llm.faults``) whose message is one line saying what failed
  and what to check.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from rag.config import Settings, mask_secret
from rag.llm.faults import RETRY_AFTER_CAP, LLMFault, fault_from, retry_after
from rag.llm.tokens import reply_tokens

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

log = logging.getLogger(__name__)

OPENAI_API = "https://api.openai.com/v1"
NO_KEY = "no-key-required"  # local servers accept any key, the openai client insists on one


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
            wait = retry_after(error)
            if wait is not None:
                return wait if 0 <= wait <= RETRY_AFTER_CAP else None
        elif not isinstance(error, openai.APIConnectionError | httpx.TransportError):
            return None
        return min(0.5 * 2 ** (attempt - 1), 8.0) * (1 - 0.25 * random.random())

    def fault(self, error: Exception, attempts: int = 1) -> LLMFault:
        log.debug("LLM request failed: %s", type(error).__name__)  # never the message: it may echo a key
        return fault_from(error, self.settings, self.endpoint, attempts)
