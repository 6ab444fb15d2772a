"""Every way a request to the chat model can fail, as one line that says what failed and what to check.

``fault_from`` turns any exception of the openai client or httpx into an ``LLMFault``. Messages never
contain the API key: the key, and anything that looks like one, is removed from server-sent details.
"""

from __future__ import annotations

import re

from rag.config import Settings
from rag.errors import AnswerFault

RETRY_AFTER_CAP = 10.0  # a server asking us to wait longer than this gets a notice instead


class LLMFault(AnswerFault):
    """The model could not give an answer. ``str(fault)`` is one line for the user (no secrets).

    kind: connection, timeout, auth, forbidden, model, rate_limit, server, request, empty, malformed.
    """


def retry_after(error: Exception) -> float | None:
    """The wait a server asked for (Retry-After / retry-after-ms), in seconds."""
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


def fault_from(error: Exception, settings: Settings, where: str, attempts: int = 1) -> LLMFault:
    """Turn any failure of a request to the model at ``where`` into one line that says what to check."""
    import httpx
    import openai

    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if isinstance(error, LLMFault):
        return error
    if isinstance(error, openai.APITimeoutError | httpx.TimeoutException):
        return LLMFault(
            "timeout",
            f"The LLM at {where} did not answer within RAG_LLM_TIMEOUT={settings.llm_timeout:g}s"
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
        detail = _redact(settings, _error_message(error))
        if status == 401:
            if settings.openai_api_key is None:
                return LLMFault("auth", f"The LLM at {where} requires an API key (401); set OPENAI_API_KEY.", 401)
            return LLMFault("auth", f"OPENAI_API_KEY was rejected (401) by {where}; check the key.", 401)
        if status == 403:
            return LLMFault(
                "forbidden",
                f"OPENAI_API_KEY may not use model {settings.llm_model!r} at {where} (403); check the key's access "
                "or RAG_LLM_MODEL.",
                403,
            )
        if status == 404:
            return LLMFault(
                "model",
                f"Model {settings.llm_model!r} was not found at {where} (404); check RAG_LLM_MODEL and that the "
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
            wait = retry_after(error)
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
        detail = _redact(settings, _error_message(error))
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


def _redact(settings: Settings, text: str) -> str:
    """An error detail fit to show: the API key and anything like one removed, one line, short."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    if key:
        text = text.replace(key, "***")
    text = re.sub(r"\b(sk-[A-Za-z0-9_\-]{4})[A-Za-z0-9_\-]{8,}", r"\1…", text)
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "…"


def _error_message(error: Exception) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(error, "message", "") or "")
