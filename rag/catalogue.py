"""The list of indexed papers, saved beside the keyword index from the same read of the store.

Listing papers from Chroma means reading every chunk (91 s at 1M chunks; a metadata filter for each paper's
first chunk is no faster, as every filtered page passes over the store). Every ingest already reads the
whole store to rebuild the keyword index, so it saves the list too, stamped with the store's generation; a
list from another generation (the store changed since) is ignored and the papers are read from Chroma.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from rag.config import Settings
from rag.files import write_atomically
from rag.store import ChunkStore, PaperRecord

FORMAT = 2  # 2: with authors, year and DOI


def save(path: Path, generation: str | None, records: list[PaperRecord]) -> None:
    """Write the list atomically: a reader sees the old list or the new one, never half of one."""
    payload = {"format": FORMAT, "generation": generation, "papers": [asdict(r) for r in records]}
    write_atomically(path, lambda out: out.write(json.dumps(payload, ensure_ascii=False).encode("utf-8")))


def load(path: Path, generation: str | None) -> list[PaperRecord] | None:
    """The saved list if it was made at ``generation``; None when missing, unreadable or out of date."""
    if generation is None:  # a store from before generations: nothing says whether the list is current
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("format") != FORMAT or payload.get("generation") != generation:
            return None
        return [PaperRecord(**record) for record in payload["papers"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def list_papers(store: ChunkStore, settings: Settings) -> list[PaperRecord]:
    """The indexed papers: from the saved list when it matches the store, else read from the store."""
    listed = load(settings.catalogue_path, store.generation())
    return listed if listed is not None else store.papers()
