"""The LLM answerer: numbered, fenced sources within the token budget, then the model writes the answer.

For one planned question: number the retrieved papers [1]..[n] best first (title + best chunks), dropping
the least relevant until the prompt fits ``RAG_LLM_CONTEXT_TOKENS``; generate, streamed or not; return the
reply as a ``Draft``. The citation check and the fallback on a fault are the pipeline's
(``rag.assistant``), the same for every answerer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

from rag.answer import ABSTAIN_TEXT, Mode
from rag.answerers.base import Draft, History, Source
from rag.config import Settings
from rag.decide import Plan, Shape
from rag.evidence import asks_for_quantity, choose_quotes
from rag.llm.client import ChatModel, Completion
from rag.llm.faults import LLMFault
from rag.llm.tokens import count_message_tokens, count_tokens, prompt_budget, truncate_tokens
from rag.prompts import Template, packaged_prompts
from rag.retrieve import ChunkHit, PaperHit

MAX_EVIDENCE_CHUNKS = 3
EVIDENCE_SENTENCES = 4
MAX_HISTORY_TURNS = 4
_FENCE = re.compile(r"<(/?)(sources?)\b", re.IGNORECASE)
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_OWN_REFERENCES = re.compile(r"^\W*(references|sources|citations)\W*$", re.IGNORECASE | re.MULTILINE)


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


def sources_of(plan: Plan) -> tuple[list[PaperHit], Callable[[PaperHit], str]]:
    """The papers the model sees, those the plan cites first, and what it sees of each: the whole abstract of a
    paper the plan cites, the sentences that best answer the question (``rag.evidence.choose_quotes``) of the
    others, "…" where the abstract goes on between them."""
    papers = plan.papers + [p for p in plan.ranked if p not in plan.papers]
    planned = {p.paper_id for p in plan.papers}
    wants_number = asks_for_quantity(plan.question)

    def evidence(paper: PaperHit) -> str:
        if paper.paper_id in planned and plan.abstract(paper):
            return " ".join(plan.abstract(paper).split())
        quotes = choose_quotes(plan.terms, paper, EVIDENCE_SENTENCES, wants_number, plan.wants_fact)
        return " … ".join(quotes) if quotes else evidence_text(paper)

    return papers, evidence


def strip_reply(text: str) -> str:
    """The answer proper: without a reasoning model's <think> block or a reference list the model added."""
    text = _THINK.sub("", text)
    match = _OWN_REFERENCES.search(text)
    if match and match.start() > 0:
        text = text[: match.start()]
    return text.strip()


class LLMAnswerer:
    """Prompts (checked at construction) plus a ``ChatModel``; thread-safe, holds no per-question state."""

    mode = Mode.LLM

    def __init__(
        self, settings: Settings, prompts: dict[str, Template] | None = None, model: ChatModel | None = None
    ) -> None:
        self.settings = settings
        self.prompts = prompts or packaged_prompts()
        self.model = model or ChatModel(settings)
        self.abstain_notice = f"Nothing relevant enough to send to the model ({self.model.model})."

    @classmethod
    def unavailable(cls, settings: Settings) -> str | None:
        if settings.llm_configured:
            return None
        return "No LLM is configured (set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server)"

    # ------------------------------------------------------------ prompt

    def _messages(self, question: str, shape: Shape, blocks: list[str]) -> list[tuple[str, str]]:
        system = self.prompts["answer_system"].render(no_answer=ABSTAIN_TEXT)
        instructions = self.prompts[f"instructions_{shape}"].render()
        user = self.prompts["answer_user"].render(
            sources="\n".join(blocks), instructions=instructions, question=question
        )
        return [("system", system), ("user", user)]

    def _block(self, n: int, title: str, evidence: str) -> str:
        return self.prompts["source"].render(n=n, title=fence_safe(title), evidence=fence_safe(evidence))

    def build_prompt(
        self, question: str, shape: Shape, papers: list[PaperHit], evidence: Callable[[PaperHit], str] = evidence_text
    ) -> Prompt:
        """Number the papers [1]..[n] best first; drop the least relevant until the prompt fits the budget.

        ``evidence(paper)``: what the model is shown of each paper (by default its best chunks)."""
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
            shown = evidence(paper)
            block = self._block(n, paper.title, shown)
            cost = count_tokens(block, model) + 1
            if used + cost > budget:
                if sources:
                    break
                # even the best paper alone is too long: cut its evidence to fit
                room = budget - used - count_tokens(self._block(n, paper.title, ""), model) - 4
                shown = truncate_tokens(shown, room, model)
                block = self._block(n, paper.title, shown)
                cost = count_tokens(block, model) + 1
            sources.append(Source(n, paper, f"{paper.title}\n{shown}"))
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

    def rewrite(self, question: str, history: History) -> str | None:
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

    def draft(self, plan: Plan, stream: bool = False) -> Generator[str, None, Draft]:
        """Yield the model's text deltas (when streaming); return its reply; raise ``LLMFault``."""
        started = time.perf_counter()
        try:
            prompt = self.build_prompt(plan.question, plan.shape, *sources_of(plan))
            completion = yield from self.model.run(prompt.messages, stream=stream)
        except LLMFault as fault:
            fault.usage = {
                "model": self.model.model,
                "fault": fault.kind,
                "model_latency_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            raise
        return Draft(
            strip_reply(completion.text),
            prompt.sources,
            self.mode,
            author=f"model ({self.model.model})",
            usage=self._usage(completion, prompt),
        )

    def _usage(self, completion: Completion, prompt: Prompt) -> dict[str, object]:
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
