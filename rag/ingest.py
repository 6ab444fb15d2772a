"""Chunk, embed and upsert papers into Chroma, then rebuild the keyword index beside it.

Idempotent and resumable: chunk ids are ``<paper id>:<content hash>:<n>``, so the same paper always
produces the same ids; unchanged papers are skipped without re-embedding; a changed abstract's new
chunks are written before its old ones are deleted. A marker file records an ingest in progress, so a
crashed run is detected and the keyword index is rebuilt on the next open.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag import catalogue, recent
from rag.config import Settings
from rag.corpus import Paper
from rag.embeddings import DIMENSION, Embedder
from rag.keyword import Entry, KeywordIndex, keyword_text
from rag.store import ChunkStore, PaperRecord, StoreError, in_title_order, new_generation, papers_from_chunks
from rag.text import sentence_pieces

Progress = Callable[[int, int], None]  # (chunks done, chunks to do)


@dataclass
class IngestReport:
    papers_seen: int = 0
    papers_added: int = 0
    papers_updated: int = 0
    papers_unchanged: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    papers_total: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, Any]


def chunk_paper(paper: Paper, chunk_size: int, chunk_overlap: int, paper_vector: bool = True) -> list[Chunk]:
    """Split one abstract with llama-index's sentence splitter; every chunk carries its paper's title.

    With ``paper_vector`` one more entry holds the whole abstract (``level: paper``): topic-level and
    paraphrased questions match a whole abstract better than any single sentence of it.
    """
    from llama_index.core.node_parser import SentenceSplitter

    # Cut at the sentences evidence is quoted by (rag.text), not NLTK's: importing NLTK took a second per ingest.
    splitter = SentenceSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, chunking_tokenizer_fn=sentence_pieces
    )
    texts = [t for t in splitter.split_text(paper.abstract) if t.strip()] or [paper.abstract]
    chunks = []
    for n, text in enumerate(texts):
        meta: dict[str, Any] = {
            "paper_id": paper.id,
            "title": paper.title,
            "url": paper.url or "",
            "source": paper.source,
            "chunk": n,
            "hash": paper.content_hash,
            "authors": "; ".join(paper.authors),
            "doi": paper.doi or "",
        }
        if paper.year is not None:
            meta["year"] = paper.year
        meta["chunks"] = len(texts)  # so a reader can name every chunk of the paper by id
        if n == 0:
            meta["abstract"] = paper.abstract
        chunks.append(Chunk(f"{paper.id}:{paper.content_hash}:{n}", text, meta))
    if paper_vector:
        meta = {**chunks[0].metadata, "chunk": -1, "level": "paper"}
        meta.pop("abstract", None)
        chunks.append(Chunk(f"{paper.id}:{paper.content_hash}:paper", paper.abstract, meta))
    return chunks


# ---------------------------------------------------------------- in-progress marker


def marker_path(settings: Settings) -> Path:
    return settings.home / "ingest-in-progress"


def _marker_pid(marker: Path) -> int | None:
    try:
        return int(marker.read_text().strip())
    except (OSError, ValueError):
        return None


def ingest_running(settings: Settings) -> bool:
    """True while another live process is ingesting into this home."""
    pid = _marker_pid(marker_path(settings))
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process not yet reaped by its parent (a zombie) is not ingesting
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def ingesting_here(settings: Settings) -> bool:
    """True while this very process is ingesting into this home."""
    try:
        return int(marker_path(settings).read_text().strip()) == os.getpid()
    except (OSError, ValueError):
        return False


def clear_interrupted_marker(settings: Settings) -> None:
    if interrupted_ingest(settings):
        marker_path(settings).unlink(missing_ok=True)


def interrupted_ingest(settings: Settings) -> bool:
    """A marker left by a process that died mid-ingest."""
    return marker_path(settings).exists() and not ingest_running(settings)


# ---------------------------------------------------------------- ingest


def ingest(
    papers: list[Paper],
    store: ChunkStore,
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None = None,
    rebuild: bool = False,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport(papers_seen=len(papers))
    settings.home.mkdir(parents=True, exist_ok=True)
    marker = marker_path(settings)
    owner = _marker_pid(marker)
    if owner is not None and owner != os.getpid() and ingest_running(settings):
        # A StoreError, so the CLI ends with one line (exit code 2) rather than a traceback.
        raise StoreError(
            f"another `rag ingest` (process {owner}) is running on {settings.home}; wait for it to finish "
            f"(or, if no such process exists, delete {marker})."
        )
    # Fail fast, before leaving a marker behind, when the store cannot be reached or read.
    if settings.chroma_url:
        _ = store.client
    elif not rebuild:
        store.count()
    marker.write_text(str(os.getpid()))
    before = None if rebuild else store.generation()  # what the keyword index must match to grow in place
    # Our own writes keep this process's vector index current only if it was current before them.
    current_here = rebuild or (not settings.chroma_url and store.view == before)
    stamped, after = new_generation(), new_generation()  # the generations it writes under, then leaves
    written: Written | None = None
    try:
        _note_start(settings, before, stamped)
        if rebuild:
            store.reset()
        store.bump_generation(stamped)  # readers elsewhere now know their keyword index is out of date
        written = _write_chunks(papers, store, embedder, settings, report, progress)
    finally:
        # Whatever happened, the keyword index must match what Chroma now holds. The second bump tells a
        # reader that rebuilt its keyword index from a half-written store (on a shared server) to rebuild again.
        # The step is recorded first, so a reader that sees ``after`` finds it in the recent-vectors log.
        _record_step(settings, (before, stamped, after), None if rebuild else written)
        store.bump_generation(after)
        if current_here and not settings.chroma_url:
            store.mark_current(after)
        report.papers_total, report.chunks_total = update_keyword_index(store, settings, before, written)
        marker.unlink(missing_ok=True)
        embedder.release_bulk()
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class Written:
    """What an ingest changed: the chunks it wrote (and their papers), the chunks it deleted."""

    entries: list[Entry] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    papers: list[PaperRecord] = field(default_factory=list)
    vectors: list[np.ndarray] | None = field(default_factory=list)  # the entries' (None: more than the log keeps)


def _note_start(settings: Settings, before: str | None, started: str) -> None:
    """Tell readers of the embedded store, through the recent-vectors log, that an ingest is starting."""
    if not settings.chroma_url:
        with contextlib.suppress(OSError):  # a log that says nothing of this ingest only costs readers a reopen
            recent.begin(settings.recent_path, settings.collection, DIMENSION, before, started)


def _record_step(settings: Settings, step: tuple[str | None, str, str], written: Written | None) -> None:
    """Record what the ingest changed for readers of the embedded store; a Chroma server needs no log.

    A failed or rebuilding ingest, or one larger than the log keeps, empties it (its readers reopen).
    """
    if settings.chroma_url:
        return
    added = None
    if written is not None and written.vectors is not None:
        vectors = np.concatenate(written.vectors) if written.vectors else np.zeros((0, DIMENSION), np.float32)
        added = ([e.chunk_id for e in written.entries], vectors)
    try:
        recent.record(
            settings.recent_path,
            settings.collection,
            DIMENSION,
            step,
            added,
            written.removed if written is not None else [],
            settings.recent_vectors,
        )
    except Exception:  # the log then ends before this ingest: readers behind it reopen the store, as before it
        with contextlib.suppress(OSError):
            (settings.recent_path / recent.MANIFEST).unlink(missing_ok=True)


def _write_chunks(
    papers: list[Paper],
    store: ChunkStore,
    embedder: Embedder,
    settings: Settings,
    report: IngestReport,
    progress: Progress | None,
) -> Written:
    existing = store.ids_for_papers([p.id for p in papers])
    pending: list[tuple[Paper, list[Chunk], set[str]]] = []
    for paper in papers:
        chunks = chunk_paper(paper, settings.chunk_size, settings.chunk_overlap, settings.paper_vectors)
        old_ids = existing.get(paper.id, set())
        if old_ids == {c.id for c in chunks}:
            report.papers_unchanged += 1
            continue
        if old_ids:
            report.papers_updated += 1
        else:
            report.papers_added += 1
        pending.append((paper, chunks, old_ids))

    written = Written()
    total = sum(len(chunks) for _, chunks, _ in pending)
    done = 0
    if progress:
        progress(0, total)
    for batch in _batches(pending, settings.ingest_batch):
        chunks = [c for _, paper_chunks, _ in batch for c in paper_chunks]
        vectors = embedder.embed_texts([keyword_text(c.metadata, c.text) for c in chunks])
        store.collection.upsert(
            ids=[c.id for c in chunks],
            embeddings=vectors,
            documents=[c.text for c in chunks],
            metadatas=[c.metadata for c in chunks],
        )
        report.chunks_written += len(chunks)
        written.entries += [Entry(c.id, keyword_text(c.metadata, c.text)) for c in chunks]
        if written.vectors is not None and len(written.entries) <= settings.recent_vectors:
            written.vectors.append(np.asarray(vectors, dtype=np.float32))
        else:
            written.vectors = None  # more than the recent-vectors log keeps: readers will reopen the store
        written.papers += [_record(paper, paper_chunks) for paper, paper_chunks, _ in batch]
        # Only now that the new chunks are stored, drop the papers' stale ones.
        stale = [old for _, paper_chunks, old_ids in batch for old in old_ids - {c.id for c in paper_chunks}]
        if stale:
            store.collection.delete(ids=stale)
            report.chunks_deleted += len(stale)
            written.removed += stale
        done += len(chunks)
        if progress:
            progress(done, total)
    return written


def _record(paper: Paper, chunks: list[Chunk]) -> PaperRecord:
    return PaperRecord(
        paper.id,
        paper.title,
        paper.url or None,
        paper.abstract,
        paper.source,
        len(chunks),
        list(paper.authors),
        paper.year,
        paper.doi,
    )


def _batches(
    pending: list[tuple[Paper, list[Chunk], set[str]]], size: int
) -> Iterator[list[tuple[Paper, list[Chunk], set[str]]]]:
    """Group whole papers into batches of about ``size`` chunks."""
    batch: list[tuple[Paper, list[Chunk], set[str]]] = []
    count = 0
    for item in pending:
        batch.append(item)
        count += len(item[1])
        if count >= size:
            yield batch
            batch, count = [], 0
    if batch:
        yield batch


def update_keyword_index(
    store: ChunkStore, settings: Settings, before: str | None, written: Written | None
) -> tuple[int, int]:
    """Grow the keyword index and the paper list by what an ingest wrote; returns (papers, chunks).

    In place when both still describe the store as it was before the ingest (generation ``before``) and the
    ingest completed; otherwise, rebuilt from Chroma.
    """
    generation = store.generation()
    index = KeywordIndex.load(settings.bm25_path) if written is not None and before is not None else None
    listed = catalogue.load(settings.catalogue_path, before) if index is not None else None
    if written is None or index is None or index.generation != before or listed is None:
        return rebuild_keyword_index(store, settings)
    index.update(written.entries, written.removed, generation)
    records = {r.id: r for r in listed}
    records.update({r.id: r for r in written.papers})
    catalogue.save(settings.catalogue_path, generation, in_title_order(records.values()))
    return len(records), index.chunk_count


def rebuild_keyword_index(store: ChunkStore, settings: Settings) -> tuple[int, int]:
    """Rebuild the BM25 index and the saved paper list from Chroma; returns (papers, chunks) now in the store."""
    generation = store.generation()  # read first: a write after it makes the index stale, never wrongly fresh
    ids, docs, metas = store.all_chunks()
    entries = [Entry(i, keyword_text(m, d)) for i, d, m in zip(ids, docs, metas, strict=True)]
    KeywordIndex.build(settings.bm25_path, entries, generation)
    records = papers_from_chunks(docs, metas)
    catalogue.save(settings.catalogue_path, generation, records)  # same read: listing papers need not read again
    return len(records), len(ids)
