"""The LLM answerer against a real OpenAI-compatible HTTP server (scripted), through the real openai client
and llama-index: cited answers, the citation check, abstention, streaming, faults, token budget, the CLI."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_env
from openai_server import ScriptedOpenAI, error, hang, raw, reply

from rag.answer import ABSTAIN_TEXT, Answer
from rag.assistant import AskOptions, Assistant
from rag.citations import check_answer, clean_citations, parse_numbers, split_segments
from rag.config import Settings
from rag.llm.client import ChatModel, build_llm, uses_openai_class
from rag.llm.tokens import count_message_tokens, prompt_budget, reply_tokens
from rag.prompts import PromptError, load_prompts

KEY = "sk-test-secret-key-0123456789abcdef"
MODEL = "scripted-model"
ASYNCFLOW = "What throughput improvement does AsyncFlow report?"
GOOD = "AsyncFlow reports an average 1.59 throughput improvement over the state-of-the-art baseline [1]."
_SOURCE = re.compile(r'<source id="(\d+)">\n\[(\d+)\] (.*?)\n(.*?)\n</source>', re.DOTALL)


@pytest.fixture
def server() -> Iterator[ScriptedOpenAI]:
    scripted = ScriptedOpenAI().start()
    yield scripted
    scripted.stop()


@pytest.fixture
def make_assistant(server: ScriptedOpenAI, bundled_index: Path) -> Callable[..., Assistant]:
    """An Assistant over the bundled index whose LLM is the scripted server."""

    def make(**overrides: Any) -> Assistant:
        values: dict[str, Any] = {
            "home": bundled_index,
            "llm_base_url": server.url,
            "openai_api_key": KEY,
            "llm_model": MODEL,
            "llm_timeout": 5.0,
            "llm_max_retries": 2,
            **overrides,
        }
        return Assistant(Settings(**values))

    return make


def sources_sent(body: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(n, title, evidence) of every source block in the user message the server received."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    blocks = _SOURCE.findall(user)
    assert all(a == b for a, b, _, _ in blocks)
    return [(int(n), title, evidence) for n, _, title, evidence in blocks]


def assert_only_valid_citations(answer: Answer, sent: int) -> None:
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.body)}
    assert numbers <= set(range(1, sent + 1))
    assert numbers == {c.n for c in answer.citations}


# ---------------------------------------------------------------- cited answers


def test_well_cited_answer_is_used_and_the_request_is_numbered_fenced_and_in_budget(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI
) -> None:
    server.push(reply(GOOD))
    assistant = make_assistant()
    answer = assistant.ask(ASYNCFLOW, AskOptions(k=5))

    assert answer.mode == "llm" and not answer.abstained
    assert answer.body == GOOD and "References:" in answer.text and answer.notice is None
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].title.startswith("AsyncFlow") and "1.59" in answer.citations[0].evidence
    assert [v.supported for v in answer.sentences] == [True] and answer.sentences[0].citations == [1]
    usage = answer.usage
    assert usage["model"] == MODEL and usage["estimated"] is False and usage["attempts"] == 1
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert usage["model_latency_ms"] > 0 and usage["sources_sent"] == 5

    (request,) = server.requests
    body = request["body"]
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert body["model"] == MODEL and not body.get("stream") and body["max_tokens"] == reply_tokens(assistant.settings)
    system, user = body["messages"][0]["content"], body["messages"][1]["content"]
    assert ABSTAIN_TEXT in system and "untrusted" in system
    assert user.count("<sources>") == 1 and user.index("</sources>") < user.index(ASYNCFLOW)
    sent = sources_sent(body)
    assert [n for n, _, _ in sent] == [1, 2, 3, 4, 5]
    assert [title for _, title, _ in sent] == answer.retrieved  # best first
    assert "1.59" in sent[0][2]
    messages = [(m["role"], m["content"]) for m in body["messages"]]
    assert count_message_tokens(messages, MODEL) <= prompt_budget(assistant.settings)


def test_citation_to_a_missing_source_is_removed(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI
) -> None:
    server.push(reply(GOOD[:-4] + " [1, 9]. The framework also scales to many more settings [9]."))
    answer = make_assistant().ask(ASYNCFLOW, AskOptions(k=5))
    assert answer.mode == "llm"
    assert "[9]" not in answer.text and "9]" not in answer.body
    assert_only_valid_citations(answer, 5)
    assert "[9]" in answer.notice and "no such source" in answer.notice
    first, second = answer.sentences
    assert first.citations == [1] and first.supported
    assert second.citations == [] and not second.supported and second.reason == "uncited"
    assert answer.body.endswith("settings. ⚠") and "1 sentence marked ⚠: no source cited." in answer.notice


def test_a_sentence_that_asks_is_no_uncited_claim_but_what_it_states_is_checked() -> None:
    """A title with a question mark splits into two "sentences": checked together, not the first half marked."""
    listed = "- Can LLMs Learn by Teaching? A Preliminary Study: We ask whether LLMs learn by teaching. [1]"
    source = {1: "Can LLMs Learn by Teaching? A Preliminary Study\nWe ask whether LLMs learn by teaching."}
    checked = check_answer(f"{listed}\nDo they? Mostly they do.", source)
    assert [v.reason for v in checked.sentences] == ["", "question", "uncited"]
    assert checked.text == f"{listed}\nDo they? Mostly they do. ⚠"
    # a question that names or states something is an uncited claim; a leading one is checked with what it leads
    for claim in ("GRPO beats PPO by 40% on GSM8K, but does it generalise?", "Why does GRPO beat PPO by 40%?"):
        assert check_answer(claim, source).sentences[0].reason == "uncited"
    led = check_answer("- Does teaching raise accuracy by 40%? A Study: We ask whether LLMs learn. [1]", source)
    assert [v.reason for v in led.sentences] == ["'40%' is not in [1]"]


def test_a_number_missing_from_its_source_marks_the_sentence_unsupported(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI
) -> None:
    server.push(reply(f"{GOOD} AsyncFlow cuts training time by 37.5% on 512 GPUs [1]."))
    answer = make_assistant().ask(ASYNCFLOW, AskOptions(k=5))
    assert answer.mode == "llm"
    good, bad = answer.sentences
    assert good.supported
    assert not bad.supported and "'37.5%' is not in [1]" in bad.reason and "'512'" in bad.reason
    assert "[1]. ⚠" in answer.body and "⚠ =" in answer.text
    assert "1 sentence marked ⚠" in answer.notice


def test_a_reply_without_citations_falls_back_to_the_extractive_answer(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI
) -> None:
    server.push(reply("AsyncFlow is a fast framework for reinforcement learning post-training."))
    answer = make_assistant().ask(ASYNCFLOW, AskOptions(k=5))
    assert answer.mode == "extractive" and not answer.abstained
    assert "cited none of the 5 sources" in answer.notice and len(answer.notice.splitlines()) == 1
    assert answer.citations and "1.59" in answer.text
    assert answer.usage["completion_tokens"] > 0  # the tokens were spent all the same


def test_reasoning_and_own_reference_list_are_stripped_and_usage_estimated(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI
) -> None:
    text = f"<think>Maybe cite [7]?</think>\n{GOOD}\n\nReferences:\n[1] AsyncFlow: An Asynchronous Streaming RL"
    server.push(reply(text, usage=False))
    answer = make_assistant().ask(ASYNCFLOW, AskOptions(k=5))
    assert answer.mode == "llm" and answer.body == GOOD and answer.notice is None
    assert answer.usage["estimated"] is True and answer.usage["prompt_tokens"] > 100
    assert answer.usage["completion_tokens"] > 10


def test_the_cant_answer_phrase_abstains(make_assistant: Callable[..., Assistant], server: ScriptedOpenAI) -> None:
    server.push(reply(ABSTAIN_TEXT))
    answer = make_assistant().ask(ASYNCFLOW, AskOptions(k=5))
    assert answer.abstained and answer.mode == "llm"
    assert answer.citations == [] and answer.body.startswith(ABSTAIN_TEXT)
    assert answer.related and answer.related[0].startswith("AsyncFlow")


def test_nothing_relevant_means_the_model_is_not_asked(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI
) -> None:
    answer = make_assistant().ask("What is the capital of France?")
    assert answer.abstained and server.requests == []
    assert "not" in answer.notice.lower() or "nothing" in answer.notice.lower()


def test_which_papers_question_asks_for_every_matching_paper(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI
) -> None:
    def cite_all(body: dict[str, Any]) -> str:
        return "\n".join(
            f"- {title}: {evidence.split('. ')[0]}. [{n}]" for n, title, evidence in sources_sent(body)[:3]
        )

    server.push(reply(cite_all))
    answer = make_assistant().ask("Which papers study chain-of-thought reasoning?")
    assert answer.mode == "llm" and [c.n for c in answer.citations] == [1, 2, 3]
    user = server.chats[0]["messages"][1]["content"]
    assert "list every source that matches" in user
    assert all(v.supported for v in answer.sentences), answer.sentences


# ---------------------------------------------------------------- token budget


def test_sources_are_trimmed_to_the_token_budget_least_relevant_first(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI
) -> None:
    server.push(reply(GOOD))
    assistant = make_assistant(llm_context_tokens=1200)
    answer = assistant.ask(ASYNCFLOW, AskOptions(k=10))
    body = server.chats[0]
    sent = sources_sent(body)
    assert 1 <= len(sent) < 10
    assert [n for n, _, _ in sent] == list(range(1, len(sent) + 1))
    assert [t for _, t, _ in sent] == answer.retrieved[: len(sent)]  # the best ones kept, in order
    messages = [(m["role"], m["content"]) for m in body["messages"]]
    assert count_message_tokens(messages, MODEL) <= prompt_budget(assistant.settings) == 1200 - 300
    assert answer.usage["sources_dropped"] == 10 - len(sent)


# ---------------------------------------------------------------- faults


def test_429_then_success_is_retried(make_assistant: Callable[..., Assistant], server: ScriptedOpenAI) -> None:
    server.push(error(429, "slow down", headers={"retry-after-ms": "20"}), reply(GOOD))
    answer = make_assistant().ask(ASYNCFLOW, AskOptions(k=5))
    assert answer.mode == "llm" and answer.usage["attempts"] == 2 and len(server.chats) == 2


def test_500_until_the_retries_run_out(make_assistant: Callable[..., Assistant], server: ScriptedOpenAI) -> None:
    server.always(error(500, "boom"))
    started = time.perf_counter()
    answer = make_assistant(llm_max_retries=2).ask(ASYNCFLOW, AskOptions(k=5))
    assert len(server.chats) == 3 and time.perf_counter() - started < 15
    assert answer.mode == "extractive" and "1.59" in answer.text
    assert "HTTP 500 after 3 attempts" in answer.notice and "extractive answer" in answer.notice
    assert answer.usage["fault"] == "server"


def test_a_hanging_server_times_out(make_assistant: Callable[..., Assistant], server: ScriptedOpenAI) -> None:
    server.always(hang())
    started = time.perf_counter()
    answer = make_assistant(llm_timeout=1.0, llm_max_retries=1).ask(ASYNCFLOW, AskOptions(k=5))
    assert time.perf_counter() - started < 10
    assert answer.mode == "extractive" and "1.59" in answer.text
    assert "did not answer within RAG_LLM_TIMEOUT=1s after 2 attempts" in answer.notice


@pytest.mark.parametrize(
    ("step", "expected", "requests"),
    [
        (error(401, f"Incorrect API key provided: {KEY}"), "OPENAI_API_KEY was rejected (401)", 1),
        (error(404, "model not found"), f"Model '{MODEL}' was not found", 1),
        (
            error(400, "context length exceeded"),
            "rejected the request (HTTP 400: context length exceeded)",
            1,
        ),
        (error(429, "slow down", {"retry-after-ms": "10"}), "rate-limiting requests (429) after 3 attempts", 3),
        (error(429, "quota", code="insufficient_quota"), "out of quota (429)", 1),
        (error(429, "later", {"retry-after": "300"}), "rate-limiting requests (429); wait 300s", 1),
        (reply(""), "sent an empty reply", 1),
        (raw("this is not json"), "not an OpenAI chat completion", 1),
        (raw('{"unexpected": true}'), "not an OpenAI chat completion", 1),
    ],
)
def test_faults_give_the_extractive_answer_and_one_line(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI, step: Any, expected: str, requests: int
) -> None:
    server.always(step)
    answer = make_assistant().ask(ASYNCFLOW, AskOptions(k=5))
    assert answer.mode == "extractive" and not answer.abstained and "1.59" in answer.text
    assert expected in answer.notice and len(answer.notice.splitlines()) == 1
    assert len(server.chats) == requests
    assert KEY not in json.dumps(answer.to_dict())


def test_connection_refused(bundled_index: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    settings = Settings(
        home=bundled_index, llm_base_url=f"http://127.0.0.1:{port}/v1", openai_api_key=KEY, llm_max_retries=1
    )
    answer = Assistant(settings).ask(ASYNCFLOW, AskOptions(k=5))
    assert answer.mode == "extractive" and "1.59" in answer.text
    assert f"Could not reach the LLM at http://127.0.0.1:{port}/v1 (connection refused" in answer.notice
    assert "OPENAI_BASE_URL" in answer.notice


# ---------------------------------------------------------------- streaming and history


def test_stream_yields_tokens_as_they_arrive_then_one_checked_answer(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI
) -> None:
    gate = threading.Event()
    text = GOOD + " It also scales to 9000 GPUs [1][7]."
    server.push(reply(text, chunk_chars=10, gate=gate))
    stream = make_assistant().stream(ASYNCFLOW, AskOptions(k=5))
    deltas = iter(stream)
    first = next(deltas)  # the server holds the rest back until the gate opens
    assert first == text[:10] and not gate.is_set()
    gate.set()
    rest = list(deltas)
    assert "".join([first, *rest]) == text and stream.text == text
    answer = stream.answer()
    assert isinstance(answer, Answer) and stream.answer() is answer and list(stream) == [first, *rest]
    assert answer.mode == "llm" and "[7]" not in answer.body and "⚠" in answer.body
    assert answer.usage["first_token_ms"] is not None and answer.usage["estimated"] is False
    body = server.chats[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_stream_in_extractive_mode_and_on_faults_yields_only_the_answer(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI, bundled_assistant: Assistant
) -> None:
    only = bundled_assistant.stream(ASYNCFLOW, AskOptions(k=5))
    assert list(only) == [] and only.answer().mode == "extractive"
    server.always(error(503, "overloaded", headers={"retry-after-ms": "10"}))
    failed = make_assistant().stream(ASYNCFLOW, AskOptions(k=5))
    assert list(failed) == []
    fallback = failed.answer()
    assert fallback.mode == "extractive" and "HTTP 503 after 3 attempts" in fallback.notice
    assert fallback.fault == "server" and fallback.usage["fault"] == "server"
    chosen = make_assistant().stream(ASYNCFLOW, AskOptions(k=5, answerer="extractive"))
    assert list(chosen) == [] and chosen.answer().mode == "extractive" and "as requested" in chosen.answer().notice


def test_history_rewrites_the_question_before_retrieval(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI
) -> None:
    standalone = "What throughput improvement does AsyncFlow report over the baseline?"
    server.push(reply(f"Standalone question: {standalone}"), reply(GOOD))
    history = [("Tell me about AsyncFlow.", "AsyncFlow is an asynchronous streaming RL framework [1].")]
    answer = make_assistant().stream("How much faster is it?", AskOptions(k=5, history=history)).answer()
    assert answer.mode == "llm"
    assert answer.question == "How much faster is it?" and answer.rewritten_question == standalone
    rewrite, final = server.chats
    assert "Tell me about AsyncFlow." in rewrite["messages"][1]["content"]
    assert standalone in final["messages"][1]["content"]
    assert answer.citations[0].title.startswith("AsyncFlow")


def test_no_rewrite_without_history_or_llm(
    make_assistant: Callable[..., Assistant], server: ScriptedOpenAI, bundled_assistant: Assistant
) -> None:
    server.push(reply(GOOD))
    assert make_assistant().ask(ASYNCFLOW, AskOptions(k=5)).rewritten_question is None
    assert len(server.chats) == 1  # the answer only: no history, no rewrite request
    offline = bundled_assistant.ask("Is it fast?", AskOptions(history=(("a", "b"),)))
    assert offline.rewritten_question is None and offline.question == "Is it fast?"


# ---------------------------------------------------------------- configuration and prompts


def test_openai_models_use_llamaindex_openai_and_the_rest_openailike(server: ScriptedOpenAI) -> None:
    assert uses_openai_class(Settings(openai_api_key=KEY, llm_model="gpt-4o-mini"))
    assert not uses_openai_class(Settings(openai_api_key=KEY, llm_model="llama3.1:8b"))
    assert not uses_openai_class(Settings(llm_base_url="http://localhost:11434/v1", llm_model="gpt-4o-mini"))
    # llama-index's OpenAI class, pointed at the scripted server, works through the same ChatModel.
    settings = Settings(llm_base_url=server.url, openai_api_key=KEY, llm_model="gpt-4o-mini")
    llm = build_llm(settings, flavour="openai")
    assert type(llm).__name__ == "OpenAI"
    server.push(reply("hello"))
    completion = ChatModel(settings, llm=llm).complete([("user", "hi")])
    assert completion.text == "hello" and server.chats[0]["model"] == "gpt-4o-mini"


def test_packaged_prompts_load_and_a_bad_template_fails_naming_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: ScriptedOpenAI, bundled_index: Path
) -> None:
    import rag.prompts as prompts_module

    templates = load_prompts()
    assert "{" not in templates["answer_system"].render(no_answer=ABSTAIN_TEXT)
    bad = tmp_path / "prompts"
    shutil.copytree(Path(prompts_module._package_files()), bad)
    user = bad / "answer_user.txt"
    user.write_text(user.read_text() + "\n{mystery}\n")
    with pytest.raises(PromptError, match=r"answer_user\.txt uses unknown variable\(s\) \{mystery\}"):
        load_prompts(bad)
    user.write_text("Question only: {question} {instructions}")
    with pytest.raises(PromptError, match=r"answer_user\.txt is missing variable\(s\) \{sources\}"):
        load_prompts(bad)
    # at start-up: an Assistant with an LLM configured refuses to start on a broken template
    monkeypatch.setattr(prompts_module, "_package_files", lambda: bad)
    prompts_module.packaged_prompts.cache_clear()
    try:
        with pytest.raises(PromptError, match="answer_user.txt"):
            Assistant(Settings(home=bundled_index, llm_base_url=server.url))
    finally:
        prompts_module.packaged_prompts.cache_clear()


def test_citation_parsing() -> None:
    assert parse_numbers("1") == [1]
    assert parse_numbers("1, 3") == [1, 3]
    assert parse_numbers("2-4") == [2, 3, 4] and parse_numbers("2–4") == [2, 3, 4]
    assert parse_numbers("1,3-4, 3") == [1, 3, 4]
    assert clean_citations("A [1-3]. B [9]. C [2, 9].", {1, 2}) == ("A [1, 2]. B. C [2].", [3, 9])
    segments = split_segments("First claim [1]. [2] Second claim [3].\n- Item [2]")
    assert [s for s, _ in segments] == ["First claim [1]. [2]", "Second claim [3].", "- Item [2]"]
    check = check_answer(
        "CoT helps LLMs reason [1]. It uses LoRA [1].",
        {1: "Chain-of-thought helps large language models reason."},
    )
    assert [v.supported for v in check.sentences] == [True, False]
    assert "'LoRA'" in check.sentences[1].reason


# ---------------------------------------------------------------- the command line


def _rag_command() -> list[str]:
    script = ROOT / ".venv" / "bin" / "rag"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rag.cli"]


def _run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_rag_command(), *args],
        cwd=ROOT,
        env=run_env(home, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_ask_json_against_the_server(bundled_home: Path, server: ScriptedOpenAI) -> None:
    def cite_first(body: dict[str, Any]) -> str:
        n, title, evidence = sources_sent(body)[0]
        return f"{evidence.split('. ')[-1].rstrip('.')} [{n}]. Nothing else matters [{n + 40}]."

    server.always(reply(cite_first))
    env = {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "x", "RAG_LLM_MODEL": "any"}
    result = _run(bundled_home, "ask", ASYNCFLOW, "--json", **env)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["mode"] == "llm" and answer["citations"]
    sent = len(sources_sent(server.chats[0]))
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer["body"])} <= set(range(1, sent + 1))
    assert answer["usage"]["total_tokens"] > 0 and answer["usage"]["model"] == "any"


def test_cli_fault_exits_0_with_the_extractive_answer_and_a_notice(bundled_home: Path, server: ScriptedOpenAI) -> None:
    server.always(error(401, f"Incorrect API key provided: {KEY}"))
    env = {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": KEY, "RAG_LLM_MODEL": "any"}
    result = _run(bundled_home, "ask", ASYNCFLOW, "--verbose", **env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and KEY not in result.stdout + result.stderr
    assert "1.59" in result.stdout and "References:" in result.stdout
    notices = [line for line in result.stderr.splitlines() if "OPENAI_API_KEY was rejected (401)" in line]
    assert len(notices) == 1


def test_cli_streams_and_verbose_shows_usage_and_the_check(bundled_home: Path, server: ScriptedOpenAI) -> None:
    from typer.testing import CliRunner

    from rag.cli import app

    env = {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": KEY, "RAG_LLM_MODEL": "any"}
    server.always(reply(GOOD + " It runs on 4096 GPUs [1]."))
    result = CliRunner().invoke(app, ["ask", ASYNCFLOW, "--verbose"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(GOOD) and "── checked answer ──" in result.stdout
    assert "4096 GPUs [1]. ⚠" in result.stdout and "References:" in result.stdout
    assert "prompt +" in result.stderr and "model latency" in result.stderr
    assert "unsupported:" in result.stderr and "'4096' is not in [1]" in result.stderr

    info = CliRunner().invoke(app, ["info"], env=env)
    assert info.exit_code == 0, info.output
    assert "any via OpenAI-compatible" in info.stdout and server.url in info.stdout
    assert KEY not in info.stdout and KEY[-4:] in info.stdout
