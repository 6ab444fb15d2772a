"""CSL-JSON: the citation format of Zotero, Pandoc and citeproc (a JSON array of items).

``title``, ``abstract``, ``author`` (``family``/``given`` or ``literal``), ``issued`` (``date-parts``),
``DOI`` and ``URL``. Items without an abstract are reported and skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag.paper import CorpusError, Parsed, keep_or_skip, no_abstracts, year_of


def looks_like_csl_json(text: str) -> bool:
    return text.lstrip().startswith("[")


def _authors(value: Any) -> list[str]:
    names = []
    for person in value if isinstance(value, list) else []:
        if not isinstance(person, dict):
            continue
        if person.get("literal"):
            names.append(str(person["literal"]))
        elif person.get("family"):
            given = str(person.get("given") or "")
            names.append(f"{person['family']}, {given}" if given else str(person["family"]))
    return names


def _year(item: dict[str, Any]) -> int | None:
    issued = item.get("issued")
    if isinstance(issued, dict):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            return year_of(parts[0][0])
        return year_of(issued.get("raw") or issued.get("literal"))
    return year_of(item.get("year"))


def parse(path: Path, text: str) -> Parsed:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        raise CorpusError(
            path, error.lineno, f"is not valid JSON ({error.msg}); fix the file or re-export it."
        ) from None
    if isinstance(items, dict):
        items = items.get("items", [items])
    if not isinstance(items, list):
        raise CorpusError(
            path, None, "is not a CSL-JSON array of items; export 'CSL JSON' from your reference manager."
        )
    parsed = Parsed([])
    for number, item in enumerate(items, start=1):
        where = f"item {number}"
        if not isinstance(item, dict):
            raise CorpusError(path, None, f"{where} is not a JSON object; every item needs a title and an abstract.")
        title, abstract = item.get("title"), item.get("abstract", "")
        if not isinstance(title, str) or not title.strip():
            raise CorpusError(path, None, f"{where} has no title; add one or remove the item.")
        if not isinstance(abstract, str):
            raise CorpusError(path, None, f"{where} ({title[:60]!r}) has an abstract that is not text; fix it.")
        url, doi = item.get("URL"), item.get("DOI")
        keep_or_skip(
            parsed,
            title,
            abstract,
            file=path,
            line=None,
            url=url if isinstance(url, str) and url.startswith(("http://", "https://")) else None,
            authors=_authors(item.get("author")),
            year=_year(item),
            doi=doi if isinstance(doi, str) else None,
        )
    if parsed.skipped and not parsed.papers:
        raise no_abstracts(path, parsed.skipped)
    return parsed
