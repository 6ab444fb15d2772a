"""``rag mcp`` end to end: the official MCP SDK's client spawns the server over stdio, on the real index."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import anyio
from conftest import ROOT, run_env

COT = "Which papers say chain-of-thought hurts performance?"


async def _session_calls(home: Path, calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[str], list[Any], float]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "rag.cli", "mcp"], env=run_env(home), cwd=ROOT)
    started = time.perf_counter()
    async with stdio_client(params) as streams, ClientSession(*streams) as session:
        await session.initialize()
        tools = [tool.name for tool in (await session.list_tools()).tools]
        results = [await session.call_tool(name, arguments) for name, arguments in calls]
    return tools, results, time.perf_counter() - started


def test_mcp_server_answers_with_citations_that_map_to_papers(bundled_home: Path) -> None:
    calls = [
        ("ask", {"question": COT, "k": 10}),
        ("list_papers", {}),
        ("search_papers", {"query": "asynchronous reinforcement learning framework throughput", "k": 5}),
        ("ask", {"question": "   "}),
        ("get_paper", {"paper_id": "no-such-id"}),
    ]
    tools, (answer, listed, search, empty, missing), seconds = anyio.run(_session_calls, bundled_home, calls)
    assert tools == ["ask", "search_papers", "list_papers", "get_paper"]
    print(f"MCP session (spawn, model load, five calls): {seconds:.1f} s")

    assert not answer.is_error
    structured = answer.structured_content
    assert structured["abstained"] is False and structured["mode"] == "extractive"
    text = answer.content[0].text
    papers = {p["id"]: p["title"] for p in listed.structured_content["result"]}
    assert len(papers) == 80
    for citation in structured["citations"]:
        assert papers[citation["paper_id"]] == citation["title"] and f"[{citation['n']}]" in text
    assert any("Mind Your Step" in c["title"] for c in structured["citations"])

    found = search.structured_content["result"]
    assert found[0]["title"].startswith("AsyncFlow") and found[0]["evidence"] and len(found) == 5

    assert empty.is_error and "question is empty" in empty.content[0].text
    assert missing.is_error and "no indexed paper has the id 'no-such-id'" in missing.content[0].text


def test_get_paper_returns_the_abstract_and_metadata(bundled_home: Path) -> None:
    async def first_paper() -> tuple[Any, Any]:
        from mcp import ClientSession, StdioServerParameters, stdio_client

        params = StdioServerParameters(command=sys.executable, args=["-m", "rag.cli", "mcp"], env=run_env(bundled_home))
        async with stdio_client(params) as streams, ClientSession(*streams) as session:
            await session.initialize()
            listed = await session.call_tool("list_papers", {})
            first = listed.structured_content["result"][0]
            return first, await session.call_tool("get_paper", {"paper_id": first["id"]})

    first, paper = anyio.run(first_paper)
    assert not paper.is_error
    assert paper.structured_content["title"] == first["title"] and len(paper.structured_content["abstract"]) > 200
