"""The LLM answerer: numbered, fenced sources within the token budget; generation; citation check; fallbacks.

Flow for one question (``answer_stream``):

1. choose the answerer (``auto``: the LLM when one is configured);
2. with a conversation history, rewrite the question into a standalone one (LLM mode only);
3. retrieve, then ``rag.extractive.plan``: the same abstention rule as the extractive answerer, so a
   question nothing answers never reaches the model;
4. number the retrieved papers [1]..[n] best first (title + best chunks), dropping the least relevant
   until the prompt fits ``RAG_LLM_CONTEXT_TOKENS``;
5. generate (streamed or not), check the citations (``rag.citations``) and build the ``Answer``;
6. any fault, or a reply citing nothing, gives the extractive answer plus a one-line notice instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from rag.answer import Answer, Citation, full_text
from rag.citations import UNSUPPORTED_MARK, CheckResult, check_answer
from rag.config import Settings
from rag.extractive import (
    ABSTAIN_TEXT,
    NOTICE,
    PaperTexts,
    abstention,
    best_sentences,
    content_terms,
    extractive_answer,
    plan,
)
from rag.llm import (
    ChatModel,
    Completion,
    LLMFault,
    count_message_tokens,
    count_tokens,
    prompt_budget,
    truncate_tokens,
)
from rag.prompts import Template, packaged_prompts
from rag.retrieve import ChunkHit, PaperHit, Retrieval, Retriever

ANSWERERS = ("auto", "llm", "extractive")
MAX_EVIDENCE_CHUNKS = 3
MAX_HISTORY_TURNS = 4
FALLBACK = "Showing the extractive answer instead."
_NO_ANSWER = re.compile(r"the abstracts (?:in this collection )?(?:don't|do not|cannot|can't) answer this question")
_FENCE = re.compile(r"<(/?)(sources?)\b", re.IGNORECASE)
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_OWN_REFERENCES = re.compile(r"^\W*(references|sources|citations)\W*$", re.IGNORECASE | re.MULTILINE)

History = Sequence[tuple[str, str]]


# ---------------------------------------------------------------- answerer choice


def resolve_answerer(requested: str | None, settings: Settings) -> tuple[str, str | None]:
    """``("llm", None)`` or ``("extractive", notice)`` for a requested ``auto``/``llm``/``extractive``."""
    requested = requested or settings.answerer
    if requested not in ANSWERERS:
        raise ValueError(f"answerer {requested!r} is not one of {', '.join(ANSWERERS)}")
    if requested == "extractive":
        notice = (
            NOTICE
            if not settings.llm_configured
            else ("Extractive answer (as requested): sentences quoted from the abstracts.")
        )
        return "extractive", notice
    if settings.llm_configured:
        return "llm", None
    if requested == "llm":
        return "extractive", (
            "No LLM is configured (set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server): extractive answer."
        )
    return "extractive", NOTICE


# ---------------------------------------------------------------- sources


@dataclass
class Source:
    n: int
    paper: PaperHit
    evidence: str

    @property
    def text(self) -> str:
        """What the model was shown, and what the citation check compares a sentence with."""
        return f"{self.paper.title}\n{self.evidence}"


@dataclass
class Prompt:
    messages: list[tuple[str, str]]
    sources: list[Source]
    tokens: int
    dropped: int  # retrieved papers left out to fit the budget


def _chunk_index(chunk: ChunkHit) -> int:
    try:
        return int(chunk.chunk_id.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0


def evidence_text(paper: PaperHit, max_chunks: int = MAX_EVIDENCE_CHUNKS) -> str:
    """The paper's best chunks, in their order in the abstract ("…" marks a gap)."""
    if not paper.chunks:  # only its whole-abstract entry was retrieved
        return " ".join(paper.abstract.split())
    parts: list[str] = []
    previous: int | None = None
    for chunk in sorted(paper.chunks[:max_chunks], key=_chunk_index):
        index = _chunk_index(chunk)
        if previous is not None and index != previous + 1:
            parts.append("…")
        parts.append(" ".join(chunk.text.split()))
        previous = index
    return " ".join(parts)


def fence_safe(text: str) -> str:
    """Sources are untrusted: they may not open or close the fence they sit in."""
    return _FENCE.sub(r"‹\1\2", text)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- the answerer


class LLMAnswerer:
    """Prompts (checked at construction) plus a ``ChatModel``; thread-safe, holds no per-question state."""

    def __init__(
        self, settings: Settings, prompts: dict[str, Template] | None = None, model: ChatModel | None = None
    ) -> None:
        self.settings = settings
        self.prompts = prompts or packaged_prompts()
        self.model = model or ChatModel(settings)

    # ------------------------------------------------------------ prompt

    def _messages(self, question: str, shape: str, blocks: list[str]) -> list[tuple[str, str]]:
        system = self.prompts["answer_system"].render(no_answer=ABSTAIN_TEXT)
        instructions = self.prompts[f"instructions_{shape}"].render()
        user = self.prompts["answer_user"].render(
            sources="\n".join(blocks), instructions=instructions, question=question
        )
        return [("system", system), ("user", user)]

    def _block(self, n: int, title: str, evidence: str) -> str:
        return self.prompts["source"].render(n=n, title=fence_safe(title), evidence=fence_safe(evidence))

    def build_prompt(self, question: str, shape: str, papers: list[PaperHit]) -> Prompt:
        """Number the papers [1]..[n] best first; drop the least relevant until the prompt fits the budget."""
        model = self.settings.llm_model
        budget = prompt_budget(self.settings)
        base = count_message_tokens(self._messages(question, shape, []), model)
        if base >= budget:
            raise LLMFault(
                "request",
                f"RAG_LLM_CONTEXT_TOKENS={self.settings.llm_context_tokens} leaves no room for sources "
                f"(the prompt alone takes {base} tokens); raise it.",
            )
        sources: list[Source] = []
        blocks: list[str] = []
        used = base
        for n, paper in enumerate(papers, start=1):
            evidence = evidence_text(paper)
            block = self._block(n, paper.title, evidence)
            cost = count_tokens(block, model) + 1
            if used + cost > budget:
                if sources:
                    break
                # even the best paper alone is too long: cut its evidence to fit
                room = budget - used - count_tokens(self._block(n, paper.title, ""), model) - 4
                evidence = truncate_tokens(evidence, room, model)
                block = self._block(n, paper.title, evidence)
                cost = count_tokens(block, model) + 1
            sources.append(Source(n, paper, evidence))
            blocks.append(block)
            used += cost
        messages = self._messages(question, shape, blocks)
        tokens = count_message_tokens(messages, model)
        while tokens > budget and len(blocks) > 1:  # token boundaries can add a few: drop more
            blocks.pop()
            sources.pop()
            messages = self._messages(question, shape, blocks)
            tokens = count_message_tokens(messages, model)
        return Prompt(messages, sources, tokens, len(papers) - len(sources))

    # ------------------------------------------------------------ rewriting

    def rewrite(self, question: str, history: History) -> str:
        """A standalone version of a follow-up question; raises ``LLMFault``."""
        turns = [(str(u or ""), str(a or "")) for u, a in history if u or a][-MAX_HISTORY_TURNS:]
        if not turns:
            return question
        lines = []
        for user, assistant in turns:
            assistant = assistant.split("\nReferences:", 1)[0]
            lines.append(f"User: {_clip(user, 500)}\nAssistant: {_clip(assistant, 800)}")
        messages = [
            ("system", self.prompts["rewrite_system"].render()),
            ("user", self.prompts["rewrite_user"].render(history="\n".join(lines), question=question)),
        ]
        reply = self.model.complete(messages).text
        line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
        line = re.sub(r"^(standalone question|question)\s*:\s*", "", line, flags=re.IGNORECASE)
        line = line.strip().strip("\"'“”")
        if not line or len(line) > self.settings.max_question_chars:
            return question
        return line

    # ------------------------------------------------------------ answering

    def answer(
        self, retrieval: Retrieval, paper_texts: PaperTexts, stream: bool = False
    ) -> Generator[str, None, Answer]:
        """Yield the model's text deltas (when streaming); return the checked ``Answer`` (or a fallback)."""
        planned = plan(retrieval, self.settings, paper_texts)  # the extractive answerer's abstention rule
        if planned.abstain_reason:
            return abstention(
                retrieval,
                f"Nothing relevant enough to send to the model ({self.model.model}).",
                planned.abstain_reason,
            )
        started = time.perf_counter()
        try:
            prompt = self.build_prompt(retrieval.question, planned.shape, retrieval.papers)
            completion = yield from self.model.run(prompt.messages, stream=stream)
        except LLMFault as fault:
            usage = {
                "model": self.model.model,
                "fault": fault.kind,
                "model_latency_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            return self._fallback(retrieval, paper_texts, f"{fault} {FALLBACK}", usage)
        usage = self._usage(completion, prompt)
        sources = {s.n: s.text for s in prompt.sources}
        reply = strip_reply(completion.text)
        check = check_answer(reply, sources)
        if _NO_ANSWER.search(_normal(reply)):
            return self._abstained(retrieval, prompt, check, usage)
        if not check.cited:
            return self._fallback(
                retrieval,
                paper_texts,
                f"The model's reply cited none of the {len(prompt.sources)} sources, so it is not shown. {FALLBACK}",
                usage,
            )
        return self._answer(retrieval, prompt, check, usage)

    def _usage(self, completion: Completion, prompt: Prompt) -> dict[str, Any]:
        estimated = completion.prompt_tokens is None or completion.completion_tokens is None
        prompt_tokens = completion.prompt_tokens if completion.prompt_tokens is not None else prompt.tokens
        completion_tokens = (
            completion.completion_tokens
            if completion.completion_tokens is not None
            else count_tokens(completion.text, self.settings.llm_model)
        )
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "model_latency_ms": completion.latency_ms,
            "model": completion.model,
            "first_token_ms": completion.first_token_ms,
            "estimated": estimated,  # counted with tiktoken: the server reported no usage
            "attempts": completion.attempts,
            "sources_sent": len(prompt.sources),
            "sources_dropped": prompt.dropped,
        }

    def _citations(self, check: CheckResult, prompt: Prompt) -> list[Citation]:
        by_n = {s.n: s for s in prompt.sources}
        citations = []
        for n in check.cited:
            source = by_n[n]
            claims = " ".join(v.sentence for v in check.sentences if n in v.citations)
            quote = " ".join(best_sentences(claims, content_terms(claims), source.paper, limit=1))
            quote = quote or source.evidence
            citations.append(
                Citation(
                    n,
                    source.paper.paper_id,
                    source.paper.title,
                    quote,
                    source.paper.url,
                    round(source.paper.relevance, 4),
                    source.paper.abstract,
                )
            )
        return citations

    def _answer(self, retrieval: Retrieval, prompt: Prompt, check: CheckResult, usage: dict[str, Any]) -> Answer:
        citations = self._citations(check, prompt)
        notes = []
        if check.removed:
            cited = ", ".join(f"[{n}]" for n in check.removed)
            notes.append(f"Removed citation{'s' if len(check.removed) > 1 else ''} {cited}: no such source.")
        if check.unsupported:
            count = len(check.unsupported)
            notes.append(
                f"{count} sentence{'s' if count > 1 else ''} marked {UNSUPPORTED_MARK}: "
                "the cited source does not contain its numbers or key terms."
            )
        low = bool(retrieval.papers) and retrieval.papers[0].relevance < self.settings.list_min_relevance
        if low:
            notes.append("Low relevance: the closest passages only partly match the question.")
        text = full_text(check.text, citations)
        if check.unsupported:
            text += f"\n{UNSUPPORTED_MARK} = not backed by the cited source (numbers or key terms missing)."
        return Answer(
            question=retrieval.question,
            text=text,
            citations=citations,
            retrieved=[p.title for p in retrieval.papers],
            abstained=False,
            mode="llm",
            latency_ms=0.0,
            body=check.text,
            notice=" ".join(notes) or None,
            low_relevance=low,
            sentences=check.sentences,
            usage=usage,
        )

    def _abstained(self, retrieval: Retrieval, prompt: Prompt, check: CheckResult, usage: dict[str, Any]) -> Answer:
        related = [p.title for p in retrieval.papers[:3]]
        citations = self._citations(check, prompt) if check.cited else []
        if citations:
            body = check.text
        else:
            body = ABSTAIN_TEXT
            if related:
                body += "\nPossibly related:\n" + "\n".join(f"- {t}" for t in related)
        return Answer(
            question=retrieval.question,
            text=full_text(body, citations),
            citations=citations,
            retrieved=[p.title for p in retrieval.papers],
            abstained=True,
            mode="llm",
            latency_ms=0.0,
            body=body,
            notice=f"The model ({self.model.model}) found no answer in the sources.",
            related=related,
            sentences=check.sentences if citations else [],
            usage=usage,
        )

    def _fallback(self, retrieval: Retrieval, paper_texts: PaperTexts, notice: str, usage: dict[str, Any]) -> Answer:
        answer = extractive_answer(retrieval, self.settings, paper_texts, notice=notice)
        answer.usage = usage
        return answer


def strip_reply(text: str) -> str:
    """The answer proper: without a reasoning model's <think> block or a reference list the model added."""
    text = _THINK.sub("", text)
    match = _OWN_REFERENCES.search(text)
    if match and match.start() > 0:
        text = text[: match.start()]
    return text.strip()


def _normal(text: str) -> str:
    return " ".join(text.replace("’", "'").casefold().split())


# ---------------------------------------------------------------- one question, end to end


def answer_stream(
    question: str,
    *,
    settings: Settings,
    retriever: Retriever,
    llm: LLMAnswerer | None,
    k: int | None = None,
    retriever_mode: str | None = None,
    answerer: str | None = None,
    history: History | None = None,
    stream: bool = True,
) -> Generator[str, None, Answer]:
    """Rewrite (with history), retrieve, answer; yield text deltas and return the final ``Answer``."""
    mode, notice = resolve_answerer(answerer, settings)
    if mode == "llm" and llm is None:
        llm = LLMAnswerer(settings)
    rewritten: str | None = None
    fault: LLMFault | None = None
    if mode == "llm" and history:
        try:
            rewritten = llm.rewrite(question, history)
        except LLMFault as error:
            fault = error
    retrieval = retriever.retrieve(rewritten or question, k=k, mode=retriever_mode)
    if mode == "llm" and fault is None:
        answer = yield from llm.answer(retrieval, retriever.hit_texts, stream=stream)
    else:
        if fault is not None:
            notice = f"{fault} {FALLBACK}"
        answer = extractive_answer(retrieval, settings, retriever.hit_texts, notice=notice)
    answer.question = question
    answer.rewritten_question = rewritten
    return answer
