"""The `rag` command end to end, as a user runs it (subprocesses, real store)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_rag as rag


def test_ask_json_has_the_answer_fields(bundled_home: Path) -> None:
    result = rag(bundled_home, "ask", "Which papers say chain-of-thought hurts performance?", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    for field in ("text", "citations", "retrieved", "abstained", "mode", "latency_ms"):
        assert field in answer
    assert answer["mode"] == "extractive" and answer["abstained"] is False
    assert set(answer["citations"][0]) >= {"n", "paper_id", "title", "evidence", "url"}
    assert len(answer["retrieved"]) >= 10


def test_ask_prints_a_cited_answer_and_reference_list(bundled_home: Path) -> None:
    result = rag(bundled_home, "ask", "What throughput improvement does AsyncFlow report?", "--k", "5")
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "References:" in result.stdout and "1.59" in result.stdout
    assert "Extractive answer" in result.stderr


def test_papers_and_info(bundled_home: Path) -> None:
    papers = rag(bundled_home, "papers")
    assert papers.returncode == 0
    lines = papers.stdout.strip().splitlines()
    assert len(lines) == 80 and all(len(line.split()[0]) == 16 for line in lines)
    info = rag(bundled_home, "info", OPENAI_API_KEY="sk-test-1234567890abcdef")
    assert info.returncode == 0
    assert "80" in info.stdout and "526" in info.stdout or "chunks" in info.stdout
    assert "sk-test-1234567890abcdef" not in info.stdout and "cdef" in info.stdout


def test_user_errors_are_one_line_exit_2(bundled_home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"title": "x", "abstract": "fine text here that is long enough."}\n{oops\n')
    before = rag(bundled_home, "papers").stdout
    for args in (
        ("ask", "   "),
        ("ingest", str(broken)),
        ("ingest", str(tmp_path / "missing.bib")),
        ("ingest", str(tmp_path)),
    ):
        result = rag(bundled_home, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("Error:")
    assert "line 2" in rag(bundled_home, "ingest", str(broken)).stderr
    assert rag(bundled_home, "papers").stdout == before  # the store is unchanged


def test_ingest_reports_counts_and_is_idempotent(bundled_home: Path) -> None:
    first = rag(bundled_home, "ingest")
    second = rag(bundled_home, "ingest")
    assert first.returncode == 0 and second.returncode == 0
    assert "80 unchanged" in second.stdout
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]
