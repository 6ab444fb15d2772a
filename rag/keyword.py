"""The keyword index kept beside Chroma: BM25 on tantivy, grown in place as papers are added.

* **Terms.** Texts are tokenised here the way llama-index's ``BM25Retriever`` does it (English stop words
  out, Snowball stems, words of two or more letters), with letters and digits apart ("AIME2024" and
  "AIME 2024" match), and handed to tantivy as whitespace-separated terms; a question is tokenised the same.
* **Ids only.** Each entry holds its chunk id and its terms' statistics; a hit's text, metadata and vector
  are read from Chroma, which already stores them.
* **Growing in place.** An ingest adds its new chunks as a new segment and deletes the chunks it replaced
  (tantivy marks them deleted; its merge policy folds small segments together in the background). A reader
  in another process that sees a new generation reopens the index, which maps only the new segment files.
* **Derived data.** When the index is missing, of an older format, or out of step with the store (another
  process changed it, an ingest crashed), it is rebuilt from the chunks in Chroma, into a fresh directory
  swapped in whole.

Tantivy replaced bm25s (which had no incremental add, so every ingest re-read and re-indexed the whole store:
179 s at 1M chunks); the README's performance section has the side-by-side measurements.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.text import split_letters_and_digits, stemmer

MANIFEST = "manifest.json"
FORMAT = 4  # 1: llama-index's BM25Retriever; 2: bm25s; 3: bm25s, letters and digits apart; 4: tantivy
LANGUAGE = "en"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
WRITER_HEAP = 128_000_000  # bytes tantivy buffers before it writes a segment


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float


@dataclass(frozen=True)
class Entry:
    """One chunk as the keyword index sees it."""

    chunk_id: str
    text: str  # keyword_text(): the paper's title, then the chunk


def tokenize(texts: list[str]) -> list[list[str]]:
    """llama-index's BM25 tokenisation, with letters and digits apart."""
    import bm25s

    return bm25s.tokenize(
        [split_letters_and_digits(text) for text in texts],
        stopwords=LANGUAGE,
        stemmer=stemmer(),
        token_pattern=TOKEN_PATTERN,
        return_ids=False,
        show_progress=False,
    )


def _schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("chunk_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("terms", stored=False, tokenizer_name="whitespace", index_option="freq")
    return builder.build()


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        saved = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) and saved.get("format") == FORMAT else None


def _write_manifest(path: Path, generation: str | None) -> None:
    staging = path / f".{MANIFEST}.tmp"
    staging.write_text(json.dumps({"format": FORMAT, "generation": generation}))
    os.replace(staging, path / MANIFEST)


class KeywordIndex:
    def __init__(self, path: Path, index: Any, generation: str | None) -> None:
        self.path = path
        self._index = index
        self._searcher = index.searcher()
        self._schema = index.schema
        self.generation = generation  # the store's generation this index matches

    # ------------------------------------------------------------ writing

    @classmethod
    def build(cls, path: Path, entries: Sequence[Entry], generation: str | None) -> KeywordIndex | None:
        """A fresh index of ``entries``, written beside ``path`` and swapped in whole; None when empty."""
        if not entries:
            shutil.rmtree(path, ignore_errors=True)
            return None
        import tantivy

        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".keyword-", dir=path.parent))
        index = tantivy.Index(_schema(), path=str(staging))
        _add(index, entries, removed=[])
        _write_manifest(staging, generation)
        old = path.with_name(path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            os.replace(path, old)
        os.replace(staging, path)
        shutil.rmtree(old, ignore_errors=True)
        return cls.load(path)

    def update(self, added: Sequence[Entry], removed: Sequence[str], generation: str | None) -> None:
        """Add ``added`` as a new segment and delete ``removed`` (and older copies of ``added``), in place."""
        _add(self._index, added, removed)
        _write_manifest(self.path, generation)
        self._index.reload()
        self._searcher = self._index.searcher()
        self.generation = generation

    # ------------------------------------------------------------ reading

    @classmethod
    def load(cls, path: Path) -> KeywordIndex | None:
        """The saved index, or None when it is missing, unreadable or of an older format (the caller rebuilds).

        Opening maps the segment files; nothing is read until a question touches its terms.
        """
        saved = _read_manifest(path)
        if saved is None:
            return None
        try:
            import tantivy

            return cls(path, tantivy.Index.open(str(path)), saved.get("generation"))
        except Exception:  # a damaged index: rebuilt from the store
            return None

    @property
    def chunk_count(self) -> int:
        return int(self._searcher.num_docs)

    def search(self, query: str, limit: int) -> list[KeywordHit]:
        """The best ``limit`` entries for ``query`` with a positive BM25 score, best first. Thread-safe."""
        import tantivy

        terms = list(dict.fromkeys(tokenize([query])[0]))
        if not terms:
            return []
        query_terms = [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "terms", t)) for t in terms]
        searcher = self._searcher
        # Twice as many as asked, so that equal scores at the cut are chosen by chunk id, not by the order the
        # entries happened to be indexed in (a rebuilt index answers like the one grown in place).
        hits = searcher.search(tantivy.Query.boolean_query(query_terms), max(1, 2 * limit)).hits
        found = [KeywordHit(searcher.doc(address)["chunk_id"][0], float(score)) for score, address in hits if score > 0]
        return sorted(found, key=lambda hit: (-round(hit.score, 5), hit.chunk_id))[:limit]

    def document_frequency(self, term: str) -> int:
        """How many indexed entries contain the stemmed ``term`` (0 for a term the collection never uses)."""
        return int(self._searcher.doc_freq("terms", term))

    def idf(self, terms: set[str]) -> dict[str, float]:
        """Each stemmed term's inverse document frequency over the indexed entries (BM25's formula); a term
        the collection never uses gets the highest, as if it were in no entry."""
        total = self.chunk_count
        weights = {}
        for term in terms:
            frequency = self.document_frequency(term)
            weights[term] = float(np.log((total - frequency + 0.5) / (frequency + 0.5) + 1.0))
        return weights


def _add(index: Any, entries: Sequence[Entry], removed: Sequence[str]) -> None:
    """One commit: delete ``removed`` and every id about to be (re)added, then add ``entries``."""
    import tantivy

    writer = index.writer(heap_size=WRITER_HEAP, num_threads=1)
    try:
        for chunk_id in [*removed, *(e.chunk_id for e in entries)]:
            writer.delete_documents_by_term("chunk_id", chunk_id)
        step = 10_000  # tokenise in pages: a million chunks' tokens need not sit in memory at once
        for start in range(0, len(entries), step):
            page = entries[start : start + step]
            for entry, tokens in zip(page, tokenize([e.text for e in page]), strict=True):
                document = tantivy.Document()
                document.add_text("chunk_id", entry.chunk_id)
                document.add_text("terms", " ".join(tokens))
                writer.add_document(document)
        writer.commit()
        writer.wait_merging_threads()
    except BaseException:
        writer.rollback()
        raise


def keyword_text(meta: dict[str, Any], chunk_text: str) -> str:
    """What both retrievers see for a chunk: its paper's title, then the chunk."""
    return f"{meta.get('title', '')}\n{chunk_text}"
