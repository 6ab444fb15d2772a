"""A paper record and its validation: what every corpus format is parsed into.

Every problem a user can cause raises ``CorpusError`` naming the file, the line (or record) when known, and
what to do about it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.text import latex_to_text

MAX_TITLE_CHARS = 500
MAX_ABSTRACT_CHARS = 20_000

_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_DOI = re.compile(r"10\.\d{4,9}/[^\s\"<>]+")


class CorpusError(RagError):
    """A corpus file that cannot be read as abstracts; the message names the file, line and fix."""

    def __init__(self, file: str | Path, line: int | None, why: str) -> None:
        self.file = str(file)
        self.line = line
        self.why = why
        where = f"{self.file}, line {line}" if line else self.file
        super().__init__(f"{where}: {why}")


@dataclass(frozen=True)
class Paper:
    id: str
    title: str
    abstract: str
    url: str | None = None
    source: str = ""
    authors: tuple[str, ...] = field(default_factory=tuple)
    year: int | None = None
    doi: str | None = None
    line: int | None = field(default=None, compare=False)

    @property
    def content_hash(self) -> str:
        """Changes whenever the indexed text changes, so a re-ingest can tell stale chunks apart."""
        return hashlib.sha1(f"{self.title}\n{self.abstract}".encode()).hexdigest()[:12]


def normalise_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def paper_id(title: str) -> str:
    """Stable id from the normalised title: the same paper always gets the same id."""
    return hashlib.sha1(normalise_title(title).encode()).hexdigest()[:16]


def first_url(text: str) -> str | None:
    match = _URL.search(text)
    return match.group(0).rstrip(".,;:") if match else None


def _clean(text: str) -> str:
    """One line of plain text: LaTeX escapes undone ("79.2\\%" -> "79.2%"), whitespace collapsed."""
    return " ".join(latex_to_text(text).split())


def make_paper(
    title: str,
    abstract: str,
    *,
    file: Path,
    line: int | None,
    url: str | None = None,
    authors: Iterable[str] = (),
    year: int | None = None,
    doi: str | None = None,
) -> Paper:
    """Validate one record and build its ``Paper``."""
    title, abstract = _clean(title), _clean(abstract)
    if not title:
        raise CorpusError(file, line, "a paper has an empty title; give every paper a title.")
    if len(title) > MAX_TITLE_CHARS:
        raise CorpusError(
            file,
            line,
            f"title is {len(title):,} characters (limit {MAX_TITLE_CHARS}); is the file in the right format?",
        )
    if not abstract:
        raise CorpusError(file, line, f"paper {title[:60]!r} has no abstract; add one or remove the paper.")
    if len(abstract) > MAX_ABSTRACT_CHARS:
        raise CorpusError(
            file,
            line,
            f"abstract of {title[:60]!r} is {len(abstract):,} characters (limit {MAX_ABSTRACT_CHARS:,}); "
            "pass abstracts, not full texts.",
        )
    doi = _doi(doi)
    return Paper(
        id=paper_id(title),
        title=title,
        abstract=abstract,
        url=url or (f"https://doi.org/{doi}" if doi else None) or first_url(abstract),
        source=str(file),
        authors=tuple(a for a in (_clean(x) for x in authors) if a),
        year=year if year is None or 1000 <= year <= 2999 else None,
        doi=doi,
        line=line,
    )


def _doi(value: str | None) -> str | None:
    """A bare DOI ("10.1000/xyz"), whether given bare or as a doi.org link."""
    if not value:
        return None
    match = _DOI.search(value)
    return match.group(0).rstrip(".,;") if match else None


def year_of(value: object) -> int | None:
    """The year in "2024", 2024, "2024/01/02/" or "Jan 2024"; None when there is none."""
    match = re.search(r"\b(1[0-9]{3}|2[0-9]{3})\b", str(value or ""))
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Skipped:
    """A record a file holds but that cannot be indexed (no abstract): reported, not silently dropped."""

    file: str
    line: int | None
    title: str


@dataclass
class Parsed:
    """What one file gave: its papers, and the records skipped for want of an abstract."""

    papers: list[Paper]
    skipped: list[Skipped] = field(default_factory=list)


def keep_or_skip(parsed: Parsed, title: str, abstract: str, *, file: Path, line: int | None, **metadata: Any) -> None:
    """Add the record as a paper, or, when it has a title but no abstract, note it as skipped."""
    if _clean(title) and not _clean(abstract):
        parsed.skipped.append(Skipped(str(file), line, _clean(title)))
        return
    parsed.papers.append(make_paper(title, abstract, file=file, line=line, **metadata))


def no_abstracts(path: Path, skipped: list[Skipped]) -> CorpusError:
    """The error for a file whose every record lacks an abstract."""
    first = skipped[0]
    return CorpusError(
        path,
        first.line,
        f"no abstract in any of its {len(skipped)} record(s) (first: {first.title[:60]!r}); export the "
        "abstracts too (in Zotero and Mendeley they are included when the record has one).",
    )
