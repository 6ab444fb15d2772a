"""The gold set is well-formed, the metrics behave, and quality doesn't regress below the committed report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_env

from rag.assistant import AskOptions
from rag.config import BUNDLED_CORPUS
from rag.corpus import load_file
from rag.evaluate import HEADLINE, KINDS, GoldQuestion, answer_metrics, fact_found, load_gold, run_eval

GOLD = ROOT / "eval" / "gold.jsonl"
COMMITTED = ROOT / "eval" / "reports" / "latest" / "results.json"
TOLERANCE = 0.02


QUESTION_SETS = sorted((ROOT / "eval").glob("*.jsonl"))


@pytest.mark.parametrize("path", QUESTION_SETS, ids=[p.stem for p in QUESTION_SETS])
def test_question_sets_are_well_formed(path: Path) -> None:
    golds = load_gold(path)
    assert len(golds) >= 20
    assert len({g.id for g in golds}) == len(golds)
    titles = {p.title for p in load_file(BUNDLED_CORPUS)}
    for gold in golds:
        assert gold.kind in KINDS
        for title in (*gold.gold_titles, *gold.also_ok):
            assert title in titles, f"{gold.id}: {title!r} is not a corpus title"
        if gold.answerable:
            assert gold.gold_titles, gold.id
        else:
            assert gold.kind == "unanswerable" and not gold.gold_titles and not gold.must_mention
    assert {g.kind for g in golds} == set(KINDS)


def test_answer_metrics_follow_their_definitions() -> None:
    gold = GoldQuestion("x", "q", "which_papers", ("A", "B"), ("C",), ("1,320",), True)
    metrics = answer_metrics(gold, ["A", "C", "D"], "found 1320 samples", abstained=False)
    assert metrics["citation_precision"] == pytest.approx(2 / 3)
    assert metrics["citation_recall"] == pytest.approx(1 / 2)
    assert metrics["citation_f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert metrics["fact_recall"] == 1.0
    assert fact_found("1,320", "about 1320 items") and not fact_found("55%", "55 percent")
    unanswerable = GoldQuestion("y", "q", "unanswerable", (), (), (), False)
    assert answer_metrics(unanswerable, [], "", abstained=True)["abstention_correct"] == 1.0
    assert answer_metrics(unanswerable, ["A"], "text", abstained=False)["abstention_correct"] == 0.0


def test_extractive_quality_does_not_regress(bundled_assistant) -> None:
    committed = json.loads(COMMITTED.read_text())["summary"]
    results = run_eval(
        load_gold(GOLD),
        lambda q: bundled_assistant.ask(q, AskOptions(k=10, retriever="hybrid", answerer="extractive")),
        {"answerer": "extractive"},
    )
    summary = results["summary"]
    assert len(results["questions"]) == committed["questions"]
    for metric in HEADLINE:
        if metric == "false_abstention_rate":
            assert summary[metric] <= committed[metric] + TOLERANCE, metric
        else:
            assert summary[metric] >= committed[metric] - TOLERANCE, (metric, summary[metric], committed[metric])
    for row in results["questions"]:
        assert len(row["retrieved"]) >= 10


def test_eval_command_writes_results_and_report(bundled_home: Path, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    lines = GOLD.read_text().splitlines()
    gold.write_text("\n".join([lines[0], lines[17], lines[-1]]) + "\n")  # one each: fact, list, unanswerable
    out = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "eval", "--gold", str(gold), "--out", str(out), "--k", "10"],
        cwd=ROOT,
        env=run_env(bundled_home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "By kind" in result.stdout
    data = json.loads((out / "results.json").read_text())
    assert set(data) >= {"config", "summary", "by_kind", "questions"}
    row = data["questions"][0]
    assert set(row) >= {
        "id",
        "question",
        "kind",
        "answerable",
        "retrieved",
        "cited",
        "answer",
        "abstained",
        "latency_ms",
        "metrics",
    }
    report = (out / "report.md").read_text()
    assert "## Summary" in report and "## By kind" in report and "## Failures" in report
