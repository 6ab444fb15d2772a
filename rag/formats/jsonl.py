"""JSON Lines: one object per line with ``title`` and ``abstract`` (optional ``url``, ``doi``, ``authors``,
``year``), the format ``rag papers --format jsonl`` writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rag.paper import CorpusError, Parsed, make_paper, year_of


def parse(path: Path, text: str) -> Parsed:
    """Every line a paper: an abstract is required (this is our own format, not a reference manager's)."""
    papers = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorpusError(path, number, f"is not valid JSON ({err.msg}); fix or delete that line.") from None
        if not isinstance(record, dict):
            raise CorpusError(path, number, "must be a JSON object with 'title' and 'abstract'.")
        missing = [key for key in ("title", "abstract") if not isinstance(record.get(key), str)]
        if missing:
            raise CorpusError(path, number, f"is missing text field(s) {', '.join(missing)}; every object needs both.")
        authors = record.get("authors") or []
        if isinstance(authors, str):
            authors = [a for a in re.split(r"\s+and\s+|;|,", authors)]
        papers.append(
            make_paper(
                record["title"],
                record["abstract"],
                file=path,
                line=number,
                url=record.get("url") if isinstance(record.get("url"), str) else None,
                authors=[str(a) for a in authors] if isinstance(authors, list) else [],
                year=year_of(record.get("year")) if isinstance(record.get("year"), int | str) else None,
                doi=record.get("doi") if isinstance(record.get("doi"), str) else None,
            )
        )
    return Parsed(papers)
