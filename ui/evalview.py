"""The Evaluation tab's data: the newest ``eval/reports/*/results.json``, as tables ready to show."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORTS_DIR = Path(__file__).resolve().parent.parent / "eval" / "reports"
NO_REPORT = "No evaluation report yet — run `rag eval` (or `make eval`) to score the system on eval/gold.jsonl."


@dataclass
class EvalView:
    path: Path | None = None
    summary: dict[str, float] = field(default_factory=dict)
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    questions: int = 0
    error: str | None = None

    @property
    def metrics(self) -> list[str]:
        names = list(self.summary)
        for values in self.by_kind.values():
            names.extend(n for n in values if n not in names)
        return names

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """Rows: one per metric; columns: overall, then each kind of question."""
        kinds = list(self.by_kind)
        headers = ["metric", "overall", *kinds]
        rows = [
            [name, self.summary.get(name), *(self.by_kind[kind].get(name) for kind in kinds)] for name in self.metrics
        ]
        return headers, rows

    def chart_rows(self, metric: str) -> list[dict[str, Any]]:
        return [{"kind": kind, "value": values[metric]} for kind, values in self.by_kind.items() if metric in values]


def _numbers(values: Any) -> dict[str, float]:
    if not isinstance(values, dict):
        return {}
    out = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            continue
        out[str(name)] = round(float(value), 4)
    return out


def newest_report(reports_dir: Path = REPORTS_DIR) -> Path | None:
    if not reports_dir.is_dir():
        return None
    found = [p for p in reports_dir.glob("*/results.json") if p.is_file()]
    found += [p for p in [reports_dir / "results.json"] if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def load_view(reports_dir: Path = REPORTS_DIR) -> EvalView:
    path = newest_report(reports_dir)
    if path is None:
        return EvalView()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return EvalView(path=path, error=f"{path} cannot be read ({err.__class__.__name__}); run `rag eval` again.")
    if not isinstance(data, dict):
        return EvalView(path=path, error=f"{path} is not an evaluation report; run `rag eval` again.")
    by_kind = data.get("by_kind") if isinstance(data.get("by_kind"), dict) else {}
    questions = data.get("questions")
    return EvalView(
        path=path,
        summary=_numbers(data.get("summary")),
        by_kind={str(kind): _numbers(values) for kind, values in by_kind.items()},
        config=data.get("config") if isinstance(data.get("config"), dict) else {},
        questions=len(questions) if isinstance(questions, list) else 0,
    )
