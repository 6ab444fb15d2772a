"""Parse abstract collections into validated ``Paper`` records, whatever format they come in.

Formats (``rag.formats``, detected by extension, then by content): Daily Papers text dumps, JSON Lines,
BibTeX, RIS (Zotero, Mendeley, EndNote, Web of Science, Scopus), CSL-JSON (Zotero, Pandoc) and CSV/TSV
with a header row (OpenAlex, Semantic Scholar, spreadsheets). Only the files given are read. A record
without an abstract is reported and skipped; every other problem raises ``CorpusError`` naming the file,
the line or record, and the fix, before anything is written to the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag.formats import bibtex, csl_json, daily_papers, jsonl, ris, table
from rag.paper import (
    MAX_ABSTRACT_CHARS,
    MAX_TITLE_CHARS,
    CorpusError,
    Paper,
    Parsed,
    Skipped,
    make_paper,
    normalise_title,
    paper_id,
)

__all__ = [
    "MAX_ABSTRACT_CHARS",
    "MAX_TITLE_CHARS",
    "Corpus",
    "CorpusError",
    "Paper",
    "Skipped",
    "load_corpus",
    "load_file",
    "make_paper",
    "normalise_title",
    "paper_id",
    "read_corpus",
]

MAX_FILE_BYTES = 200 * 1024 * 1024
SUFFIXES = (".txt", ".jsonl", ".ndjson", ".json", ".bib", ".bibtex", ".ris", ".csv", ".tsv")
_PARSERS: dict[str, Callable[[Path, str], Parsed]] = {
    "daily_papers": daily_papers.parse,
    "jsonl": jsonl.parse,
    "bibtex": bibtex.parse,
    "ris": ris.parse,
    "csl_json": csl_json.parse,
    "table": table.parse,
}


def _read_text(path: Path) -> str:
    if not path.exists():
        raise CorpusError(path, None, "no such file; check the path.")
    if path.is_dir():
        raise CorpusError(path, None, "is a directory; pass the corpus files inside it instead.")
    size = path.stat().st_size
    if size == 0:
        raise CorpusError(path, None, "the file is empty; pass a file with papers in it.")
    if size > MAX_FILE_BYTES:
        raise CorpusError(path, None, f"the file is {size / 1e6:.0f} MB; split it into files under 200 MB.")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise CorpusError(
            path, None, "looks like a binary file; pass a text file (.txt, .jsonl, .bib, .ris, .json, .csv or .tsv)."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CorpusError(path, line, "is not valid UTF-8; re-save the file as UTF-8.") from None
    if not text.strip():
        raise CorpusError(path, None, "the file has only whitespace; pass a file with papers in it.")
    return text


def detect_format(path: Path, text: str) -> str:
    """By extension, then by content: a reference manager's export is recognised whatever it is called."""
    suffix = path.suffix.lower()
    by_suffix = {".jsonl": "jsonl", ".ndjson": "jsonl", ".bib": "bibtex", ".bibtex": "bibtex", ".ris": "ris"}
    if suffix in by_suffix:
        return by_suffix[suffix]
    if suffix in {".csv", ".tsv"}:
        return "table"
    stripped = text.lstrip()
    if suffix == ".json" or stripped.startswith(("[", "{")):
        return "csl_json" if csl_json.looks_like_csl_json(text) else "jsonl"
    if stripped.startswith("@"):
        return "bibtex"
    if ris.looks_like_ris(text):
        return "ris"
    return "daily_papers"


def read_file(path: str | Path) -> Parsed:
    path = Path(path)
    text = _read_text(path)
    parsed = _PARSERS[detect_format(path, text)](path, text)
    if not parsed.papers:
        raise CorpusError(path, None, "contains no papers; pass a file with at least one title and abstract.")
    return parsed


def load_file(path: str | Path) -> list[Paper]:
    return read_file(path).papers


@dataclass
class Corpus:
    papers: list[Paper]
    skipped: list[Skipped] = field(default_factory=list)

    def skipped_line(self, shown: int = 3) -> str | None:
        """One line on the records skipped for want of an abstract, or None when there were none."""
        if not self.skipped:
            return None
        titles = ", ".join(repr(s.title[:60]) for s in self.skipped[:shown])
        more = f" and {len(self.skipped) - shown} more" if len(self.skipped) > shown else ""
        return f"Skipped {len(self.skipped)} record(s) without an abstract: {titles}{more}."


def read_corpus(paths: Iterable[str | Path]) -> Corpus:
    """Parse every file, then merge: identical duplicates collapse; same title, different abstract is an error."""
    merged: dict[str, Paper] = {}
    skipped: list[Skipped] = []
    for path in paths:
        parsed = read_file(path)
        skipped += parsed.skipped
        for paper in parsed.papers:
            previous = merged.get(paper.id)
            if previous is not None and previous.abstract != paper.abstract:
                raise CorpusError(
                    paper.source,
                    paper.line,
                    f"title {paper.title[:60]!r} appears twice with different abstracts (also in "
                    f"{previous.source}); keep one version.",
                )
            merged.setdefault(paper.id, paper)
    return Corpus(list(merged.values()), skipped)


def load_corpus(paths: Iterable[str | Path]) -> list[Paper]:
    return read_corpus(paths).papers
