"""Opening the Chroma collection: embedded under ``RAG_HOME`` or a Chroma server at ``RAG_CHROMA_URL``.

Chroma is the source of truth for chunks and their vectors. It is always given vectors we computed;
its own default embedding function (which downloads a model) is never attached.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from rag.catchup import CatchUp
from rag.config import Settings
from rag.embeddings import DIMENSION, MODEL_NAME
from rag.errors import RagError

SCHEMA_VERSION = 1
GENERATION = "generation"  # collection metadata: a token every ingest changes
_GENERATIONS_MADE_HERE: set[str] = set()  # the tokens this process wrote
# Each embedded Chroma System open in this process (one per path, shared by the clients opened on it until a
# reopen) -> the generation its vector index holds the store up to: the one read when it was opened (the index
# is loaded on first use, after that), or the one this process's own ingest left it at.
_VIEWS: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()
T = TypeVar("T")


class StoreError(RagError):
    """The store cannot be used as it is; the message says what to do."""


@dataclass
class PaperRecord:
    id: str
    title: str
    url: str | None
    abstract: str
    source: str
    chunks: int
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    doi: str | None = None


def _client(settings: Settings) -> Any:
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=True)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise StoreError(
                f"RAG_CHROMA_URL={settings.chroma_url!r} is not an http(s)://host:port URL; fix or unset it."
            )
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as err:  # chromadb raises bare Exception/ValueError on connection failure
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_url} ({err.__class__.__name__}); "
                "start it (`chroma run`) or unset RAG_CHROMA_URL."
            ) from None
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    try:
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except Exception as err:
        _forget_failed_system(str(settings.chroma_path))
        raise StoreError(
            f"the index at {settings.chroma_path} cannot be opened ({_short(err)}); "
            "it may be corrupt or from another version: run `rag ingest --rebuild`."
        ) from None


def _system(path: str) -> Any:
    """The embedded Chroma System this process holds for ``path`` (chromadb shares one per path)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    return SharedSystemClient._identifier_to_system.get(path)


def _forget_failed_system(path: str) -> None:
    """chromadb caches a System per path *before* starting it; one that failed to start would be handed to the
    next client for that path (failing with an unrelated AttributeError, even after ``--rebuild``). Drop it."""
    with contextlib.suppress(Exception):
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient._identifier_to_system.pop(path, None)


def _short(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else err.__class__.__name__
    return text[:160]


class ChunkStore:
    """The Chroma collection holding every chunk, its vector and its paper's metadata."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._collection: Any = None
        self._system: Any = None  # the embedded System the client is on
        self._catch_up = CatchUp(settings.recent_path, settings.collection, DIMENSION, settings.recent_vectors)
        self.reopens = 0  # how often this store dropped its client to read the store afresh

    @property
    def client(self) -> Any:
        """Opened on first use, so ``reset()`` can still clear a store too corrupt to open."""
        if self._client is None:
            self._client = _client(self.settings)
        return self._client

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.chroma_path)

    @property
    def collection(self) -> Any:
        if self._collection is None:
            self._collection = self._open_collection()
        return self._collection

    def _open_collection(self) -> Any:
        client = self.client  # raises its own StoreError when the store cannot be opened
        try:
            collection = client.get_or_create_collection(
                self.settings.collection,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embed_model": MODEL_NAME, "dimension": DIMENSION, "schema": SCHEMA_VERSION},
            )
        except Exception as err:
            raise StoreError(
                f"the collection {self.settings.collection!r} at {self.location} cannot be opened ({_short(err)}); "
                "run `rag ingest --rebuild`."
            ) from None
        meta = collection.metadata or {}
        if meta.get("embed_model") != MODEL_NAME or meta.get("schema") != SCHEMA_VERSION:
            raise StoreError(
                f"the index at {self.location} was built by another version or embedding model "
                f"({meta.get('embed_model')!r}, schema {meta.get('schema')!r}); run `rag ingest --rebuild`."
            )
        if not self.settings.chroma_url:
            self._system = _system(str(self.settings.chroma_path))
            if self._system is not None and self._system not in _VIEWS:
                _VIEWS[self._system] = meta.get(GENERATION)  # before any query has loaded its vector index
        return collection

    def reopen(self) -> None:
        """Forget the open client; the next use reads the store afresh (after another process wrote to it).

        Embedded Chroma keeps an in-memory view of its index per process; a second process's ingest leaves
        that view stale ("Error finding id"), so readers reopen when they notice a change.
        """
        if not self.settings.chroma_url:
            _forget_failed_system(str(self.settings.chroma_path))
        self._client = None
        self._collection = None
        self._system = None
        self._catch_up.clear()
        self.reopens += 1

    def read(self, operation: Callable[[Any], T]) -> T:
        """Run a read on the collection; if it fails, reopen the store once and retry."""
        try:
            return operation(self.collection)
        except StoreError:
            raise
        except Exception:
            self.reopen()
        try:
            return operation(self.collection)
        except StoreError:
            raise
        except Exception as err:
            raise StoreError(
                f"the index at {self.location} cannot be read ({_short(err)}); if another process is writing to "
                "it, try again, otherwise run `rag ingest --rebuild`."
            ) from None

    def generation(self) -> str | None:
        """The token every ingest changes, read afresh so another process's ingest shows.

        Readers compare it with the token their keyword index was built at: one metadata lookup,
        whatever the size of the store (a ``count()`` scans every chunk: 8 ms at 87k chunks).
        """
        return self.read(lambda c: (self.client.get_collection(c.name).metadata or {}).get(GENERATION))

    def bump_generation(self, token: str | None = None) -> str:
        """Mark the store as changed (an ingest calls this before it writes and again when it is done)."""
        fresh = self.client.get_collection(self.collection.name)  # its metadata as stored now, not as opened
        token = token or new_generation()
        fresh.modify(metadata={**(fresh.metadata or {}), GENERATION: token})
        _GENERATIONS_MADE_HERE.add(token)
        return token

    @staticmethod
    def changed_here(generation: str | None) -> bool:
        """Whether this process made ``generation``: its own Chroma client then already holds those writes.

        Only another process's change calls for ``reopen()``: reopening after our own ingest (an upload in
        the UI) would read the store afresh for nothing (opening a 1M-chunk store takes 9 s) and leave a
        second live client over the same files in this process.
        """
        return generation in _GENERATIONS_MADE_HERE

    # ------------------------------------------------------------ another process's writes

    @property
    def view(self) -> str | None:
        """The generation up to which this process's embedded vector index holds the store (None: unknown)."""
        _ = self.collection
        return _VIEWS.get(self._system) if self._system is not None else None

    def mark_current(self, generation: str) -> None:
        """This process's own writes brought its vector index up to ``generation`` (it was current before them)."""
        if self._system is not None:
            _VIEWS[self._system] = generation
        self._catch_up.clear()

    def catch_up(self, generation: str | None, writer_running: bool = False) -> None:
        """Follow a change of the store to ``generation`` made by another process.

        A Chroma server is never stale: only the client is renewed. Embedded Chroma's vector index is loaded
        once per process; rather than reload it whole, the recent-vectors log fills in what it lacks, and only
        when the log cannot (``rag/catchup.py``) is the store reopened.
        """
        if self.settings.chroma_url:
            if not self.changed_here(generation):
                self.reopen()
            return
        view = self.view
        if generation == view:
            self._catch_up.clear()
        elif not self._catch_up.follow(view, generation, writer_running):
            self.reopen()

    def query(self, vector: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """The ids of the ``limit`` chunks nearest ``vector`` with their cosine similarity, nearest first.

        Ids and distances only: reading 120 chunks' text and metadata from Chroma costs three times the search
        itself, and the caller reads them through its chunk cache. Beside a stale vector index the recent
        vectors are searched too, and chunks removed since are left out.
        """
        recent = self._catch_up.recent
        asked = limit + min(len(recent.removed), limit)  # room for removed chunks the stale index still returns
        result = self.read(lambda c: c.query(query_embeddings=[vector], n_results=asked, include=["distances"]))
        hits = [
            (chunk_id, 1.0 - float(dist))
            for chunk_id, dist in zip(result["ids"][0], result["distances"][0], strict=True)
            if chunk_id not in recent.removed
        ]
        if recent.ids:
            seen = {chunk_id for chunk_id, _ in hits}
            floor = hits[limit - 1][1] if len(hits) >= limit else -np.inf
            hits.extend((i, s) for i, s in recent.search(vector, limit) if s > floor and i not in seen)
            hits.sort(key=lambda hit: hit[1], reverse=True)
        return hits[:limit]

    def get_with_vectors(self, ids: list[str] | None = None, where: dict[str, Any] | None = None) -> dict[str, Any]:
        """Chunks by id or filter with their documents, metadata and vectors (as ``collection.get`` returns them).

        A vector added since the index was loaded comes from the recent vectors: the stale index has none.
        """
        include = ["documents", "metadatas", "embeddings"]
        recent = self._catch_up.recent
        if not recent.ids:
            return self.read(lambda c: c.get(ids=ids, where=where, include=include))
        rows = self.read(lambda c: c.get(ids=ids, where=where, include=["documents", "metadatas"]))
        older = [chunk_id for chunk_id in rows["ids"] if chunk_id not in recent.rows]
        stored: dict[str, Any] = {}
        if older:
            got = self.read(lambda c: c.get(ids=older, include=["embeddings"]))
            stored = dict(zip(got["ids"], got["embeddings"], strict=True))
        keep = [n for n, chunk_id in enumerate(rows["ids"]) if chunk_id in recent.rows or chunk_id in stored]
        return {
            "ids": [rows["ids"][n] for n in keep],
            "documents": [rows["documents"][n] for n in keep],
            "metadatas": [rows["metadatas"][n] for n in keep],
            "embeddings": [stored[i] if i in stored else recent.vector(i) for i in (rows["ids"][n] for n in keep)],
        }

    def count(self) -> int:
        try:
            return self.collection.count()
        except StoreError:
            raise
        except Exception as err:
            raise StoreError(
                f"the index at {self.location} cannot be read ({_short(err)}); run `rag ingest --rebuild`."
            ) from None

    def reset(self) -> None:
        """Drop the collection (used by ``--rebuild``); an embedded store too corrupt to open is removed whole."""
        from chromadb.errors import NotFoundError

        self._collection = None
        try:
            self.client.delete_collection(self.settings.collection)
        except NotFoundError:
            return  # nothing to drop (never rmtree a healthy store under its open client)
        except Exception as err:  # includes a StoreError from opening a corrupt store
            if self.settings.chroma_url:
                if isinstance(err, StoreError):
                    raise
                raise StoreError(
                    f"cannot drop the collection {self.settings.collection!r} on the Chroma server at "
                    f"{self.location} ({_short(err)}); check the server, or delete the collection there."
                ) from None
            # An unreadable embedded store: close it, remove the directory and start over (reopened on next use).
            if self._client is not None:
                with contextlib.suppress(Exception):
                    self._client.close()
                self._client = None
            shutil.rmtree(self.settings.chroma_path, ignore_errors=True)

    def ids_for_papers(self, paper_ids: list[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {pid: set() for pid in paper_ids}
        for start in range(0, len(paper_ids), 500):
            batch = paper_ids[start : start + 500]
            result = self.collection.get(where={"paper_id": {"$in": batch}}, include=["metadatas"])
            for chunk_id, meta in zip(result["ids"], result["metadatas"], strict=True):
                found[str(meta["paper_id"])].add(chunk_id)
        return found

    def all_chunks(self, batch: int = 25_000) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every chunk's id, text and metadata (paged, so large stores don't load in one response).

        Each page costs Chroma a pass over the whole store (1.4 s at 1M chunks), so pages are as large as its
        SQLite allows (a page of 50,000 fails with "too many SQL variables").
        """
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, Any]] = []
        total = self.count()
        for offset in range(0, total, batch):
            page = self.collection.get(include=["documents", "metadatas"], limit=batch, offset=offset)
            ids += page["ids"]
            docs += page["documents"]
            metas += page["metadatas"]
        return ids, docs, metas

    def papers(self) -> list[PaperRecord]:
        """Every paper, assembled from every chunk (``rag.catalogue`` keeps a saved list for large stores)."""
        _, docs, metas = self.all_chunks()
        return papers_from_chunks(docs, metas)


def new_generation() -> str:
    return uuid.uuid4().hex


def paper_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Authors, year and DOI as a chunk's metadata holds them (absent from stores written before them)."""
    authors = str(meta.get("authors") or "")
    year = meta.get("year")
    return {
        "authors": [a for a in authors.split("; ") if a],
        "year": int(year) if isinstance(year, int | float) else None,
        "doi": str(meta.get("doi") or "") or None,
    }


def in_title_order(records: Iterable[PaperRecord]) -> list[PaperRecord]:
    """Papers are listed by title, however the store happens to return them."""
    return sorted(records, key=lambda r: (r.title.casefold(), r.id))


def papers_from_chunks(docs: list[str], metas: list[dict[str, Any]]) -> list[PaperRecord]:
    """Reassemble one record per paper from its chunks (the abstract lives on chunk 0), in title order."""
    records: dict[str, PaperRecord] = {}
    for doc, meta in zip(docs, metas, strict=True):
        pid = str(meta["paper_id"])
        record = records.get(pid)
        if record is None:
            record = records[pid] = PaperRecord(
                id=pid,
                title=str(meta["title"]),
                url=str(meta["url"]) or None,
                abstract="",
                source=str(meta.get("source", "")),
                chunks=0,
                **paper_metadata(meta),
            )
        record.chunks += 1
        if meta.get("abstract"):
            record.abstract = str(meta["abstract"])
        elif not record.abstract and int(meta.get("chunk", 0)) == 0:
            record.abstract = doc
    return in_title_order(records.values())
