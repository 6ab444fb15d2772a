"""Load: 20 concurrent API users against `rag ui`, and questions while another process ingests."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT, run_env, running_ui

USERS = 20
QUESTIONS_PER_USER = 10
QUESTIONS = [
    "Which papers say chain-of-thought hurts performance?",
    "What throughput improvement does AsyncFlow report?",
    "Which papers study grokking?",
    "How do copyright traps detect training data?",
    "What is the capital of Australia?",
]


@pytest.fixture(scope="module")
def load_home(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("load") / "home"
    shutil.copytree(bundled_index, home)
    return home


@pytest.fixture(scope="module")
def ui_url(load_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_ui(load_home, tmp_path_factory.mktemp("load-log")) as url:
        yield url


def ask_many(url: str, questions: list[str]) -> tuple[list[float], list[str]]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    latencies, errors = [], []
    for question in questions:
        started = time.perf_counter()
        try:
            answer = client.predict(question, api_name="/ask")
            assert isinstance(answer, dict) and "citations" in answer and "abstained" in answer
        except Exception as error:  # every failure is counted, none may happen
            errors.append(f"{question!r}: {error!r}")
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies, errors


def test_twenty_concurrent_users_ask_two_hundred_questions_without_errors(ui_url: str) -> None:
    plans = [[QUESTIONS[(u + i) % len(QUESTIONS)] for i in range(QUESTIONS_PER_USER)] for u in range(USERS)]
    with ThreadPoolExecutor(USERS) as pool:
        results = list(pool.map(lambda plan: ask_many(ui_url, plan), plans))
    latencies = [ms for lat, _ in results for ms in lat]
    errors = [e for _, errs in results for e in errs]
    assert len(latencies) == USERS * QUESTIONS_PER_USER
    assert errors == []
    ordered = sorted(latencies)
    p50, p95 = statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]
    print(f"\n{len(latencies)} questions from {USERS} users: p50 {p50:.0f} ms, p95 {p95:.0f} ms")


def test_questions_keep_working_while_another_process_ingests(ui_url: str, load_home: Path, tmp_path: Path) -> None:
    from bench.workload import synthetic_papers

    corpus = tmp_path / "more.jsonl"
    corpus.write_text(
        "\n".join(json.dumps({"title": p.title, "abstract": p.abstract}) for p in synthetic_papers(60)) + "\n"
    )
    ingest = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(corpus)],
        env=run_env(load_home),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answered = 0
    try:
        while ingest.poll() is None and answered < 40:
            latencies, errors = ask_many(ui_url, QUESTIONS[:2])
            assert errors == []
            answered += len(latencies)
        out, err = ingest.communicate(timeout=600)
    finally:
        if ingest.poll() is None:
            ingest.kill()
    assert ingest.returncode == 0, err
    assert answered >= 2
    assert "60 added" in out
    _, errors = ask_many(ui_url, QUESTIONS[:1])
    assert errors == []
