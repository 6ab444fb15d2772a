"""Parse abstract collections (Daily Papers text dumps, JSONL, BibTeX) into validated ``Paper`` records.

Only reads the files it is given. Every problem a user can cause raises ``CorpusError`` naming the file,
the line when known, and what to do about it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import RagError
from rag.text import latex_to_text

MAX_TITLE_CHARS = 500
MAX_ABSTRACT_CHARS = 20_000
MIN_ABSTRACT_WORDS = 8
MAX_FILE_BYTES = 200 * 1024 * 1024

_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_BIB_ENTRY_START = re.compile(r"^\s*@\w+\s*\{", re.MULTILINE)


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
    return Paper(
        id=paper_id(title),
        title=title,
        abstract=abstract,
        url=url or first_url(abstract),
        source=str(file),
        authors=tuple(a for a in (_clean(x) for x in authors) if a),
        year=year,
        line=line,
    )


# ---------------------------------------------------------------- reading files


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
        raise CorpusError(path, None, "looks like a binary file; pass a .txt, .jsonl or .bib text file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CorpusError(path, line, "is not valid UTF-8; re-save the file as UTF-8.") from None
    if not text.strip():
        raise CorpusError(path, None, "the file has only whitespace; pass a file with papers in it.")
    return text


def _blocks(text: str) -> list[tuple[int, str]]:
    """Paragraphs separated by blank lines, each with the line number it starts on."""
    blocks: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line.strip())
        elif current:
            blocks.append((start, " ".join(current)))
            current = []
    if current:
        blocks.append((start, " ".join(current)))
    return blocks


def _looks_like_abstract(block: str) -> bool:
    """Abstracts are long or have several sentences; titles are short and have at most one."""
    words = len(block.split())
    sentences = len(re.findall(r"[.!?](?:\s|$)", block))
    return words >= 30 or (words >= MIN_ABSTRACT_WORDS and sentences >= 2)


def parse_daily_papers(path: Path, text: str | None = None) -> list[Paper]:
    """A Daily Papers dump: a few header lines, then ``title / blank / abstract`` repeated."""
    text = _read_text(path) if text is None else text
    blocks = _blocks(text)
    # Skip the page header: everything before the first title that is followed by an abstract.
    start = next(
        (
            i
            for i in range(len(blocks) - 1)
            if not _looks_like_abstract(blocks[i][1]) and _looks_like_abstract(blocks[i + 1][1])
        ),
        None,
    )
    if start is None:
        raise CorpusError(
            path,
            None,
            "found no 'title, blank line, abstract' pairs; is this a Daily Papers dump (or use .jsonl/.bib)?",
        )
    papers = []
    i = start
    while i < len(blocks):
        line, title = blocks[i]
        if i + 1 >= len(blocks) or not _looks_like_abstract(blocks[i + 1][1]):
            raise CorpusError(
                path,
                line,
                f"title {title[:60]!r} is not followed by an abstract paragraph; add the abstract "
                "after a blank line, or remove the title.",
            )
        if _looks_like_abstract(title):
            raise CorpusError(
                path,
                line,
                "expected a title line here but found a paragraph; separate each title from its "
                "abstract with one blank line.",
            )
        papers.append(make_paper(title, blocks[i + 1][1], file=path, line=line))
        i += 2
    return papers


def parse_jsonl(path: Path, text: str | None = None) -> list[Paper]:
    """One JSON object per line with ``title`` and ``abstract`` (optional ``url``, ``authors``, ``year``)."""
    text = _read_text(path) if text is None else text
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
        year = record.get("year")
        papers.append(
            make_paper(
                record["title"],
                record["abstract"],
                file=path,
                line=number,
                url=record.get("url") if isinstance(record.get("url"), str) else None,
                authors=[str(a) for a in authors] if isinstance(authors, list) else [],
                year=int(year) if isinstance(year, int | str) and str(year).isdigit() else None,
            )
        )
    return papers


def parse_bibtex(path: Path, text: str | None = None) -> list[Paper]:
    """BibTeX entries with ``title`` and ``abstract`` fields; entries without an abstract are refused."""
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware

    text = _read_text(path) if text is None else text
    # bibtexparser logs a multi-line warning per broken block to stderr; our CorpusError below says it in one.
    logging.getLogger("bibtexparser").setLevel(logging.ERROR)
    library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    if library.failed_blocks:
        block = library.failed_blocks[0]
        line = (block.start_line or 0) + 1
        raise CorpusError(path, line, "BibTeX entry could not be parsed (unbalanced braces or quotes?); fix it.")
    if not library.entries:
        raise CorpusError(path, None, "no BibTeX entries found; is this a .bib file?")
    entry_lines = [text.count("\n", 0, m.start()) + 1 for m in _BIB_ENTRY_START.finditer(text)]
    papers = []
    for index, entry in enumerate(library.entries):
        line = entry_lines[index] if index < len(entry_lines) else (entry.start_line or 0) + 1
        fields = {key.lower(): value for key, value in entry.fields_dict.items()}
        title = _strip_braces(fields["title"].value) if "title" in fields else ""
        abstract = _strip_braces(fields["abstract"].value) if "abstract" in fields else ""
        if not title:
            raise CorpusError(path, line, f"entry {entry.key!r} has no title field; add one.")
        if not abstract:
            raise CorpusError(path, line, f"entry {entry.key!r} has no abstract field; add one or remove the entry.")
        authors = _strip_braces(fields["author"].value).split(" and ") if "author" in fields else []
        year_text = _strip_braces(fields["year"].value) if "year" in fields else ""
        url = _strip_braces(fields["url"].value) if "url" in fields else None
        if not url and "doi" in fields:
            url = f"https://doi.org/{_strip_braces(fields['doi'].value)}"
        papers.append(
            make_paper(
                title,
                abstract,
                file=path,
                line=line,
                url=url,
                authors=authors,
                year=int(year_text) if year_text.isdigit() else None,
            )
        )
    return papers


def _strip_braces(value: object) -> str:
    return _clean(str(value).replace("{", "").replace("}", ""))


# ---------------------------------------------------------------- dispatch


def detect_format(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix in {".bib", ".bibtex"}:
        return "bibtex"
    if suffix == ".json":
        return "jsonl"
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "jsonl"
    if stripped.startswith("@"):
        return "bibtex"
    return "daily_papers"


_PARSERS = {"jsonl": parse_jsonl, "bibtex": parse_bibtex, "daily_papers": parse_daily_papers}


def load_file(path: str | Path) -> list[Paper]:
    path = Path(path)
    text = _read_text(path)
    papers = _PARSERS[detect_format(path, text)](path, text)
    if not papers:
        raise CorpusError(path, None, "contains no papers; pass a file with at least one title and abstract.")
    return papers


def load_corpus(paths: Iterable[str | Path]) -> list[Paper]:
    """Parse every file, then merge: identical duplicates collapse; same title, different abstract is an error."""
    merged: dict[str, Paper] = {}
    for path in paths:
        for paper in load_file(path):
            previous = merged.get(paper.id)
            if previous is not None and previous.abstract != paper.abstract:
                raise CorpusError(
                    paper.source,
                    paper.line,
                    f"title {paper.title[:60]!r} appears twice with different abstracts (also in "
                    f"{previous.source}); keep one version.",
                )
            merged.setdefault(paper.id, paper)
    return list(merged.values())
