"""Daily Papers page dumps: a few header lines, then ``title / blank line / abstract`` repeated."""

from __future__ import annotations

import re
from pathlib import Path

from rag.paper import CorpusError, Parsed, make_paper

MIN_ABSTRACT_WORDS = 8


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


def parse(path: Path, text: str) -> Parsed:
    """A Daily Papers dump: a few header lines, then ``title / blank / abstract`` repeated."""
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
    return Parsed(papers)
