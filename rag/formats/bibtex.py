"""BibTeX (Zotero, Mendeley, Google Scholar exports) through bibtexparser; entries without an abstract are
reported and skipped."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from rag.paper import CorpusError, Parsed, _clean, keep_or_skip, no_abstracts, year_of

_BIB_ENTRY_START = re.compile(r"^\s*@\w+\s*\{", re.MULTILINE)


def parse(path: Path, text: str) -> Parsed:
    """BibTeX entries with ``title`` and ``abstract`` fields."""
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware

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
    parsed = Parsed([])
    for index, entry in enumerate(library.entries):
        line = entry_lines[index] if index < len(entry_lines) else (entry.start_line or 0) + 1
        fields = {key.lower(): value for key, value in entry.fields_dict.items()}
        title = _strip_braces(fields["title"].value) if "title" in fields else ""
        abstract = _strip_braces(fields["abstract"].value) if "abstract" in fields else ""
        if not title:
            raise CorpusError(path, line, f"entry {entry.key!r} has no title field; add one.")
        authors = _strip_braces(fields["author"].value).split(" and ") if "author" in fields else []
        keep_or_skip(
            parsed,
            title,
            abstract,
            file=path,
            line=line,
            url=_strip_braces(fields["url"].value) if "url" in fields else None,
            authors=authors,
            year=year_of(_strip_braces(fields["year"].value)) if "year" in fields else None,
            doi=_strip_braces(fields["doi"].value) if "doi" in fields else None,
        )
    if parsed.skipped and not parsed.papers:
        raise no_abstracts(path, parsed.skipped)
    return parsed


def _strip_braces(value: object) -> str:
    """The decoded value as one line. Grouping braces ("{BERT}") are gone after LaTeX decoding; an escaped
    brace (``\\{``) is a brace of the text and stays."""
    return _clean(str(value))
