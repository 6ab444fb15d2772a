"""The optional faithfulness column: llama-index's FaithfulnessEvaluator, judged by the scripted model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import ROOT
from openai_server import ScriptedOpenAI, reply
from test_llm import make_assistant, server, sources_sent  # noqa: F401 - fixtures

from rag.assistant import AskOptions, Assistant
from rag.evaluate import faithfulness_judge, load_gold, run_eval

JUDGE_MARK = "supported by the context"


def scripted(verdict: str) -> Callable[[dict[str, Any]], str]:
    """Answer questions citing the first source; answer the faithfulness judge with ``verdict``."""

    def respond(body: dict[str, Any]) -> str:
        text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        if JUDGE_MARK in text:
            return verdict
        n, _title, evidence = sources_sent(body)[0]
        return f"{evidence.split('. ')[0].rstrip('.')} [{n}]."

    return respond


def run_small_eval(assistant: Assistant) -> dict[str, Any]:
    golds = [g for g in load_gold(ROOT / "eval" / "gold.jsonl") if g.id in {"g01", "g02", "g57"}]
    return run_eval(
        golds,
        lambda q: assistant.ask(q, AskOptions(answerer="llm")),
        {"answerer": "llm"},
        judge=faithfulness_judge(assistant.settings),
    )


def test_faithful_answers_score_one_and_abstentions_are_not_judged(
    make_assistant: Callable[..., Assistant],  # noqa: F811
    server: ScriptedOpenAI,  # noqa: F811
) -> None:
    server.always(reply(scripted("YES")))
    results = run_small_eval(make_assistant())
    assert results["summary"]["faithfulness"] == 1.0
    by_id = {row["id"]: row for row in results["questions"]}
    assert by_id["g57"]["abstained"] and by_id["g57"]["metrics"]["faithfulness"] is None
    assert any(JUDGE_MARK in str(chat) for chat in server.chats)


def test_unfaithful_answers_score_zero(
    make_assistant: Callable[..., Assistant],  # noqa: F811
    server: ScriptedOpenAI,  # noqa: F811
) -> None:
    server.always(reply(scripted("NO")))
    results = run_small_eval(make_assistant())
    assert results["summary"]["faithfulness"] == 0.0
