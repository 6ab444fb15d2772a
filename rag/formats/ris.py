"""RIS: the export format of Zotero, Mendeley, EndNote, Web of Science and Scopus, parsed with ``rispy``.

``TI``/``T1`` titles, ``AB``/``N2`` abstracts, ``AU``/``A1`` authors, ``PY``/``Y1`` years, ``DO`` DOIs and
``UR`` links. Records without an abstract are reported and skipped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rag.paper import CorpusError, Parsed, keep_or_skip, no_abstracts, year_of

_RECORD_START = re.compile(r"^\s*TY\s{1,2}-", re.MULTILINE)
_TAG_LINE = re.compile(r"^[A-Z][A-Z0-9]\s{1,2}-( |$)")


def looks_like_ris(text: str) -> bool:
    return bool(_RECORD_START.search(text[:4096]))


def _first(record: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = record.get(key)
        if isinstance(value, list):
            value = " ".join(str(v) for v in value if v)
        if value:
            return str(value)
    return ""


def _check(path: Path, text: str) -> list[int]:
    """Each record's first line; a line that is neither a tag nor a continuation is an error there."""
    starts: list[int] = []
    open_record = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if _TAG_LINE.match(line):
            tag = line[:2]
            if tag == "TY":
                if open_record:
                    raise CorpusError(path, number, "a new record starts before the previous one ends; add 'ER  -'.")
                starts.append(number)
                open_record = True
            elif tag == "ER":
                if not open_record:
                    raise CorpusError(path, number, "'ER  -' ends a record that never started; add its 'TY  -' line.")
                open_record = False
            elif not open_record:
                raise CorpusError(path, number, f"tag {tag!r} is outside a record; start records with 'TY  -'.")
        elif not open_record:
            raise CorpusError(path, number, "is not an RIS line ('XX  - value'); is this an .ris export?")
    if open_record:
        raise CorpusError(path, starts[-1], "this record has no 'ER  -' line at its end; add one.")
    return starts


def parse(path: Path, text: str) -> Parsed:
    import rispy

    starts = _check(path, text)
    try:
        records = rispy.loads(text)
    except Exception as error:  # rispy raises plain exceptions for broken input
        raise CorpusError(path, None, f"is not a readable RIS file ({error}); re-export it.") from None
    parsed = Parsed([])
    for index, record in enumerate(records):
        line = starts[index] if index < len(starts) else None
        title = _first(record, "title", "primary_title", "translated_title", "short_title")
        if not title:
            raise CorpusError(path, line, "this record has no title (TI or T1); add one or remove the record.")
        urls = record.get("urls") or []
        keep_or_skip(
            parsed,
            title,
            _first(record, "abstract", "notes_abstract"),
            file=path,
            line=line,
            url=next((u for u in urls if str(u).startswith(("http://", "https://"))), None),
            authors=record.get("authors") or record.get("first_authors") or [],
            year=year_of(_first(record, "year", "publication_year", "date")),
            doi=_first(record, "doi") or None,
        )
    if parsed.skipped and not parsed.papers:
        raise no_abstracts(path, parsed.skipped)
    return parsed
