"""The evaluation harness: runs gold questions through ``Assistant.ask`` and scores the answers.

Ranking metrics (recall@5, recall@10, MRR, nDCG@10) come from ranx; the answer metrics are the
paper-level citation precision/recall/F1, fact recall, abstention accuracy and false abstentions.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.text import split_sentences

KINDS = ("single_fact", "which_papers", "paraphrase", "comparison", "unanswerable")
RANKING = ("recall@5", "recall@10", "mrr", "ndcg@10")
EVIDENCE = ("evidence_precision", "evidence_recall", "evidence_f1", "evidence_hit")
HEADLINE = (
    "recall@10",
    "mrr",
    "citation_f1",
    "which_papers_f1",
    "fact_recall",
    "abstention_accuracy",
    "false_abstention_rate",
)


class GoldError(RagError):
    """A gold file that cannot be used; names the file, line and fix."""


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    kind: str
    gold_titles: tuple[str, ...]
    also_ok: tuple[str, ...]
    must_mention: tuple[str, ...]
    answerable: bool
    evidence: tuple[str, ...] = ()  # gold evidence sentences (highlighted in the abstract), when known


def load_gold(path: str | Path) -> list[GoldQuestion]:
    path = Path(path)
    if not path.is_file():
        raise GoldError(f"{path}: no such gold file; pass --gold with a JSONL file of questions.")
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = GoldQuestion(
                id=str(row["id"]),
                question=str(row["question"]),
                kind=str(row["kind"]),
                gold_titles=tuple(row.get("gold_titles", [])),
                also_ok=tuple(row.get("also_ok", [])),
                must_mention=tuple(row.get("must_mention", [])),
                answerable=bool(row.get("answerable", True)),
                evidence=tuple(row.get("evidence", [])),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise GoldError(f"{path}, line {number}: not a gold question ({error}); see eval/gold.jsonl.") from None
        if question.kind not in KINDS:
            raise GoldError(f"{path}, line {number}: kind {question.kind!r} is not one of {', '.join(KINDS)}.")
        questions.append(question)
    if not questions:
        raise GoldError(f"{path}: no questions; add one JSON object per line.")
    return questions


# ---------------------------------------------------------------- per-question answer metrics


def _normalise_fact(text: str) -> str:
    text = text.casefold()
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,320 == 1320
    return " ".join(text.split())


def fact_found(fact: str, answer: str) -> bool:
    return _normalise_fact(fact) in _normalise_fact(answer)


def _sentence_key(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.casefold()))


def same_sentence(quoted: str, gold: str) -> bool:
    """Whether a quoted sentence is the gold one (up to spacing, punctuation and case; a quote may be cut
    from it or extend it by a clause)."""
    a, b = _sentence_key(quoted), _sentence_key(gold)
    if not a or not b:
        return False
    if a == b or (min(len(a), len(b)) >= 20 and (a in b or b in a)):
        return True
    words_a, words_b = set(a.split()), set(b.split())
    return len(words_a & words_b) / len(words_a | words_b) >= 0.8


def evidence_metrics(quoted: list[str], gold: tuple[str, ...]) -> dict[str, float]:
    """Sentence-level precision/recall/F1 of the quoted evidence against the gold sentences, and whether
    any quoted sentence is a gold one."""
    right = sum(any(same_sentence(q, g) for g in gold) for q in quoted)
    found = sum(any(same_sentence(q, g) for q in quoted) for g in gold)
    precision = right / len(quoted) if quoted else 0.0
    recall = found / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "evidence_precision": precision,
        "evidence_recall": recall,
        "evidence_f1": f1,
        "evidence_hit": float(right > 0),
    }


def answer_metrics(gold: GoldQuestion, cited: list[str], answer: str, abstained: bool) -> dict[str, float | None]:
    metrics: dict[str, float | None] = {"abstained": float(abstained)}
    if not gold.answerable:
        metrics["abstention_correct"] = float(abstained)
        return metrics
    accepted = set(gold.gold_titles) | set(gold.also_ok)
    unique = list(dict.fromkeys(cited))
    precision = sum(t in accepted for t in unique) / len(unique) if unique else 0.0
    recall = sum(t in unique for t in gold.gold_titles) / len(gold.gold_titles) if gold.gold_titles else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    metrics.update(citation_precision=precision, citation_recall=recall, citation_f1=f1)
    if gold.must_mention:
        metrics["fact_recall"] = sum(fact_found(f, answer) for f in gold.must_mention) / len(gold.must_mention)
    return metrics


def ranking_metrics(golds: list[GoldQuestion], retrieved: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Per-question recall@5/@10 and nDCG@10 against gold titles; MRR against gold ∪ also_ok (ranx)."""
    from ranx import Qrels, Run, evaluate

    answerable = [g for g in golds if g.answerable and g.gold_titles]
    if not answerable:
        return {}
    run_dict = {
        g.id: {title: 1.0 / (rank + 1) for rank, title in enumerate(dict.fromkeys(retrieved.get(g.id, [])))}
        or {"(nothing retrieved)": 0.0}
        for g in answerable
    }
    strict = Qrels({g.id: {t: 1 for t in g.gold_titles} for g in answerable})
    lenient = Qrels({g.id: {t: 1 for t in (*g.gold_titles, *g.also_ok)} for g in answerable})
    run = Run(run_dict)
    scores = evaluate(strict, run, ["recall@5", "recall@10", "ndcg@10"], return_mean=False, make_comparable=True)
    mrr = evaluate(lenient, Run(run_dict), "mrr", return_mean=False, make_comparable=True)
    per_question: dict[str, dict[str, float]] = {}
    for index, gold in enumerate(answerable):
        per_question[gold.id] = {
            "recall@5": float(scores["recall@5"][index]),
            "recall@10": float(scores["recall@10"][index]),
            "ndcg@10": float(scores["ndcg@10"][index]),
            "mrr": float(mrr[index]),
        }
    return per_question


# ---------------------------------------------------------------- aggregation


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 1)


def summarise(rows: list[dict[str, Any]]) -> dict[str, float | int | None]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def collect(name: str, subset: list[dict[str, Any]]) -> list[float]:
        return [r["metrics"][name] for r in subset if r["metrics"].get(name) is not None]

    summary: dict[str, float | int | None] = {"questions": len(rows)}
    for name in RANKING:
        summary[name] = _mean(collect(name, answerable))
    for name in ("citation_precision", "citation_recall", "citation_f1", "fact_recall", *EVIDENCE):
        summary[name] = _mean(collect(name, answerable))
    faithfulness = collect("faithfulness", rows)
    if faithfulness:
        summary["faithfulness"] = _mean(faithfulness)
    which = [r for r in answerable if r["kind"] == "which_papers"]
    summary["which_papers_f1"] = _mean(collect("citation_f1", which))
    summary["abstention_accuracy"] = _mean(collect("abstention_correct", unanswerable))
    summary["false_abstention_rate"] = _mean(collect("abstained", answerable))
    latencies = [r["latency_ms"] for r in rows]
    summary["latency_p50_ms"] = _percentile(latencies, 0.5)
    summary["latency_p95_ms"] = _percentile(latencies, 0.95)
    return summary


def by_kind(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    result = {}
    for kind in dict.fromkeys([*KINDS, *(r["kind"] for r in rows)]):
        subset = [r for r in rows if r["kind"] == kind]
        if subset:
            result[kind] = {k: v for k, v in summarise(subset).items() if v is not None}
    return result


# ---------------------------------------------------------------- running


AskFn = Callable[[str], Any]  # question -> Answer-like (text, citations[].title, retrieved, abstained, latency_ms)
JudgeFn = Callable[[str, Any], float | None]  # (question, answer) -> faithfulness score, or None


def faithfulness_judge(settings: Any) -> JudgeFn:
    """llama-index's FaithfulnessEvaluator, judged by the configured LLM, against the cited evidence.

    Abstentions and answers without citations are not judged (None).
    """
    from llama_index.core.evaluation import FaithfulnessEvaluator

    from rag.llm.client import build_llm

    evaluator = FaithfulnessEvaluator(llm=build_llm(settings))

    def judge(question: str, answer: Any) -> float | None:
        if answer.abstained or not answer.citations:
            return None
        contexts = [f"{c.title}: {c.evidence}" for c in answer.citations]
        try:
            result = evaluator.evaluate(query=question, response=answer.body or answer.text, contexts=contexts)
        except Exception:  # the judge's own faults must not end the run
            return None
        return None if result.score is None else float(result.score)

    return judge


def run_eval(
    golds: list[GoldQuestion],
    ask: AskFn,
    config: dict[str, Any],
    progress: Callable[[int, int], None] | None = None,
    judge: JudgeFn | None = None,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for index, gold in enumerate(golds):
        answer = ask(gold.question)
        cited = [c.title for c in answer.citations]
        metrics = answer_metrics(gold, cited, answer.text, bool(answer.abstained))
        quoted = [s for c in answer.citations for s in split_sentences(getattr(c, "evidence", ""))]
        if gold.evidence:
            metrics.update(evidence_metrics(quoted, gold.evidence))
        if judge is not None:
            metrics["faithfulness"] = judge(gold.question, answer)
        rows.append(
            {
                "id": gold.id,
                "question": gold.question,
                "kind": gold.kind,
                "answerable": gold.answerable,
                "retrieved": list(answer.retrieved),
                "cited": cited,
                "answer": answer.text,
                "abstained": bool(answer.abstained),
                "latency_ms": float(answer.latency_ms),
                "metrics": metrics,
                "gold_titles": list(gold.gold_titles),
                "quoted": quoted,
            }
        )
        if progress:
            progress(index + 1, len(golds))
    ranking = ranking_metrics(golds, {r["id"]: r["retrieved"] for r in rows})
    for row in rows:
        row["metrics"].update(ranking.get(row["id"], {}))
    return {"config": config, "summary": summarise(rows), "by_kind": by_kind(rows), "questions": rows}


# ---------------------------------------------------------------- reports


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1.0 else f"{value:.1f}"
    return str(value)


SUMMARY_COLUMNS = (
    "recall@5",
    "recall@10",
    "mrr",
    "ndcg@10",
    "citation_precision",
    "citation_recall",
    "citation_f1",
    "which_papers_f1",
    "fact_recall",
    *EVIDENCE,
    "abstention_accuracy",
    "false_abstention_rate",
    "faithfulness",
    "latency_p50_ms",
    "latency_p95_ms",
)
KIND_COLUMNS = (
    "questions",
    "recall@10",
    "mrr",
    "citation_f1",
    "fact_recall",
    "evidence_f1",
    "abstention_accuracy",
    "false_abstention_rate",
)


def shown_columns(columns: tuple[str, ...], tables: list[dict[str, Any]]) -> list[str]:
    """The columns that have a value somewhere (evidence metrics only for sets with gold evidence, …)."""
    return [c for c in columns if any(t.get(c) is not None for t in tables)]


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def report_markdown(results: dict[str, Any], baselines: dict[str, dict[str, Any]] | None = None) -> str:
    config = results["config"]
    every = [results, *(baselines or {}).values()]
    metrics = shown_columns(SUMMARY_COLUMNS, [r["summary"] for r in every])
    kind_columns = shown_columns(KIND_COLUMNS, list(results["by_kind"].values()))
    parts = [
        "# Evaluation report",
        "",
        f"Gold set: `{config.get('gold')}` ({results['summary']['questions']} questions). "
        f"Answerer: {config.get('answerer')}, retriever: {config.get('retriever')}, k={config.get('k')}.",
        f"Reproduce: `{config.get('command')}`",
        "",
        "## Summary",
        "",
        markdown_table(["metric", "value"], [[m, _fmt(results["summary"].get(m))] for m in metrics]),
    ]
    if baselines:
        names = list(baselines)
        parts += [
            "",
            "## Baselines (same questions, same run)",
            "",
            markdown_table(
                ["metric", *names],
                [[m, *[_fmt(baselines[n]["summary"].get(m)) for n in names]] for m in metrics],
            ),
        ]
    parts += [
        "",
        "## By kind",
        "",
        markdown_table(
            ["kind", *kind_columns],
            [[kind, *[_fmt(values.get(c)) for c in kind_columns]] for kind, values in results["by_kind"].items()],
        ),
        "",
        "## Failures",
        "",
    ]
    failures = [r for r in results["questions"] if is_failure(r)]
    if not failures:
        parts.append("None.")
    for row in failures:
        parts += [
            f"### {row['id']} ({row['kind']}): {row['question']}",
            f"- gold: {', '.join(row['gold_titles']) or '(unanswerable)'}",
            f"- cited: {', '.join(row['cited']) or '(nothing)'}{' — abstained' if row['abstained'] else ''}",
            *([f"- quoted: {' | '.join(row.get('quoted', []))}"] if row.get("quoted") else []),
            f"- metrics: {', '.join(f'{k}={_fmt(v)}' for k, v in row['metrics'].items())}",
            "",
        ]
    return "\n".join(parts) + "\n"


def is_failure(row: dict[str, Any]) -> bool:
    metrics = row["metrics"]
    if not row["answerable"]:
        return not row["abstained"]
    return (
        row["abstained"]
        or (metrics.get("citation_f1") or 0.0) < 1.0
        or (metrics.get("fact_recall") is not None and metrics["fact_recall"] < 1.0)
        or (metrics.get("recall@10") is not None and metrics["recall@10"] < 1.0)
        or metrics.get("evidence_hit") == 0.0
    )


def write_report(results: dict[str, Any], out_dir: Path, baselines: dict[str, dict[str, Any]] | None = None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = dict(results)
    if baselines:
        payload["baselines"] = {
            name: {"summary": b["summary"], "by_kind": b["by_kind"]} for name, b in baselines.items()
        }
    (out_dir / "results.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(report_markdown(results, baselines), encoding="utf-8")
