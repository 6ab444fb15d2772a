"""What a writer can paste: an answer as Markdown, its references as BibTeX, the collection as JSONL, BibTeX or
CSV. Every export re-imports through ``rag ingest`` unchanged (tests/test_formats.py round-trips each)."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from rag.answer import Answer, Citation
from rag.store import PaperRecord

_KEY_STOPWORDS = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "via", "is", "are", "do", "how"}
_BIB_SPECIAL = re.compile(r"([%&#_$])")
_LIGATURE = re.compile(r"([-`'])(?=\1)")  # "--" would read back as an en dash, "``" as a quote


@dataclass(frozen=True)
class Reference:
    """What a reference is made of, whether it comes from an answer's citation or the paper list."""

    title: str
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    doi: str | None = None
    url: str | None = None
    abstract: str = ""

    @classmethod
    def of(cls, item: Citation | PaperRecord) -> Reference:
        return cls(item.title, list(item.authors), item.year, item.doi, item.url, item.abstract)


def _ascii_word(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower())


def bibtex_key(reference: Reference, taken: set[str]) -> str:
    """``vaswani2017attention``: first author's family name, year, first significant title word; stable for a
    paper, with a letter added when two papers would share one."""
    first = reference.authors[0] if reference.authors else ""
    family = first.split(",")[0] if "," in first else (first.split()[-1] if first.split() else "")
    words = [w for w in (_ascii_word(t) for t in reference.title.split()) if w and w not in _KEY_STOPWORDS]
    base = f"{_ascii_word(family) or 'anon'}{reference.year or ''}{words[0] if words else 'paper'}"
    key, suffix = base, ord("a")
    while key in taken:
        key, suffix = f"{base}{chr(suffix)}", suffix + 1
    taken.add(key)
    return key


def _bib_value(text: str) -> str:
    r"""A field value a LaTeX-decoding reader reads back as ``text``: backslashes, braces, special characters,
    ties and the TeX ligatures ``--``, ``\`\``` and ``''`` escaped."""
    text = text.replace("\\", "\x00").replace("{", "\\{").replace("}", "\\}").replace("\x00", "\\textbackslash{}")
    text = _BIB_SPECIAL.sub(r"\\\1", text).replace("~", "\\textasciitilde{}")
    return _LIGATURE.sub(r"\1{}", text)


def bibtex(references: Iterable[Reference]) -> str:
    """One ``@article`` per reference, with its abstract (so the file re-imports as a collection)."""
    taken: set[str] = set()
    entries = []
    for ref in references:
        fields = [("title", ref.title)]
        if ref.authors:
            fields.append(("author", " and ".join(ref.authors)))
        if ref.year:
            fields.append(("year", str(ref.year)))
        if ref.doi:
            fields.append(("doi", ref.doi))
        if ref.url and not (ref.doi and ref.url == f"https://doi.org/{ref.doi}"):
            fields.append(("url", ref.url))
        if ref.abstract:
            fields.append(("abstract", ref.abstract))
        body = ",\n".join(f"  {name} = {{{_bib_value(value)}}}" for name, value in fields)
        entries.append(f"@article{{{bibtex_key(ref, taken)},\n{body}\n}}\n")
    return "\n".join(entries)


def _reference_line(citation: Citation) -> str:
    title = f"[{citation.title}]({citation.url})" if citation.url else citation.title
    byline = f" — {citation.byline}" if citation.byline else ""
    doi = f" doi:{citation.doi}" if citation.doi else ""
    return f"[{citation.n}] {title}{byline}.{doi}"


def answer_markdown(answer: Answer) -> str:
    """The answer with its ``[n]`` markers, then a numbered reference list with links and the quoted evidence."""
    lines = [f"**Q:** {answer.question}", "", answer.body or answer.text]
    if answer.citations:
        lines += ["", "**References**", ""]
        for citation in answer.citations:
            lines.append(_reference_line(citation) + "  ")
            lines.append(f"> {citation.evidence}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def papers_jsonl(records: Iterable[PaperRecord]) -> str:
    rows = []
    for r in records:
        row = {
            "title": r.title,
            "abstract": r.abstract,
            "url": r.url,
            "authors": r.authors,
            "year": r.year,
            "doi": r.doi,
        }
        rows.append(json.dumps({k: v for k, v in row.items() if v}, ensure_ascii=False))
    return "\n".join(rows) + ("\n" if rows else "")


def papers_csv(records: Iterable[PaperRecord]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["title", "abstract", "authors", "year", "url", "doi"])
    for r in records:
        writer.writerow([r.title, r.abstract, "; ".join(r.authors), r.year or "", r.url or "", r.doi or ""])
    return out.getvalue()


def papers_bibtex(records: Iterable[PaperRecord]) -> str:
    return bibtex(Reference.of(r) for r in records)
