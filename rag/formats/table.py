"""CSV and TSV with a header row, as OpenAlex, Semantic Scholar, Zotero or a spreadsheet export them.

Columns (any case, a few common spellings): ``title``, ``abstract`` (required), ``authors``, ``year``,
``url``, ``doi``. Rows without an abstract are reported and skipped.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from rag.paper import CorpusError, Parsed, keep_or_skip, no_abstracts, year_of

COLUMNS = {
    "title": ("title", "display_name", "paper title", "document title"),
    "abstract": ("abstract", "abstract note", "abstract_note", "abstracttext"),
    "authors": ("authors", "author", "author names", "author_names", "authorships"),
    "year": ("year", "publication year", "publication_year", "pubyear", "date"),
    "url": ("url", "link", "landing_page_url"),
    "doi": ("doi",),
}


def _delimiter(path: Path, text: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    first = text.splitlines()[0] if text.splitlines() else ""
    return max(",;\t", key=first.count)


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    names = [" ".join(h.strip().lstrip("\ufeff").replace("_", " ").casefold().split()) for h in header]
    found = {}
    for field, spellings in COLUMNS.items():
        for spelling in spellings:
            key = spelling.replace("_", " ")
            if key in names:
                found[field] = names.index(key)
                break
    missing = [f for f in ("title", "abstract") if f not in found]
    if missing:
        raise CorpusError(
            path,
            1,
            f"the header row has no {' or '.join(missing)} column; "
            "name the columns title, abstract (and optionally authors, year, url, doi).",
        )
    return found


def _extra_lines(row: list[str]) -> int:
    """Line breaks inside a row's quoted cells (the row then ends that many lines after it starts)."""
    return sum(cell.count("\n") for cell in row)


def parse(path: Path, text: str) -> Parsed:
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(path, text))
    rows: list[tuple[int, list[str]]] = []  # (the line a row starts on, its cells)
    try:
        for row in reader:
            start = rows[-1][0] + 1 if rows else 1
            rows.append((start, row))
            rows[-1] = (reader.line_num - _extra_lines(row), row)
    except csv.Error as error:
        raise CorpusError(path, reader.line_num, f"is not valid CSV ({error}); check its quoting.") from None
    if not rows:
        raise CorpusError(path, None, "the file is empty; pass a file with papers in it.")
    header = rows[0][1]
    columns = _columns(path, header)
    parsed = Parsed([])
    for line, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(columns.values()):
            raise CorpusError(path, line, f"has {len(row)} fields but the header has {len(header)}; check its quoting.")

        def cell(field: str, row: list[str] = row) -> str:
            index = columns.get(field)
            return row[index].strip() if index is not None and index < len(row) else ""

        keep_or_skip(
            parsed,
            cell("title"),
            cell("abstract"),
            file=path,
            line=line,
            url=cell("url") if cell("url").startswith(("http://", "https://")) else None,
            authors=[a for a in re.split(r"\s*;\s*|\s+and\s+|\s*\|\s*", cell("authors")) if a],
            year=year_of(cell("year")),
            doi=cell("doi") or None,
        )
    if parsed.skipped and not parsed.papers:
        raise no_abstracts(path, parsed.skipped)
    return parsed
