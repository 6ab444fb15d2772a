"""Hybrid retrieval: dense (Chroma) and keyword (BM25) chunk rankings, fused, then ranked by paper.

Each paper comes back with its best evidence chunks and a *relevance* in [0, 1]: the cosine similarity
between the question and the paper's best chunk. Relevance is what the answerers compare against the
calibrated thresholds; the fused score only orders the papers.
"""

from __future__ import annotations

import bisect
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.acronyms import Glossary
from rag.chunk_cache import ChunkCache, Record
from rag.config import RETRIEVERS, RetrieverName, Settings
from rag.embeddings import Embedder
from rag.errors import OptionError
from rag.ingest import (
    clear_interrupted_marker,
    ingest_running,
    ingesting_here,
    interrupted_ingest,
    rebuild_keyword_index,
)
from rag.keyword import KeywordIndex, keyword_text
from rag.neighbours import nearest_words, words_by_stem
from rag.spelling import correct_spelling
from rag.store import ChunkStore, paper_metadata
from rag.text import content_terms

POOL = 20  # papers the answer is chosen from, whatever k: a list's members can rank below the top k
EVIDENCE_PAPERS = POOL  # leading papers whose every chunk is scored for evidence
_LIST_SCAFFOLD = re.compile(
    r"^\s*(which|what|list|name|find|show me)\s+(the\s+)?(papers|works|studies|abstracts|articles)\s+"
    r"((in this collection|here)\s+)?((say|show|find|claim|argue|report|suggest|demonstrate)s?\s+(that\s+)?)?",
    re.IGNORECASE,
)


def focus_query(question: str) -> str:
    """Drop list scaffolding ("Which papers say that …") so the embedding sees only the claim itself."""
    focused = _LIST_SCAFFOLD.sub("", question).strip()
    return focused if len(focused.split()) >= 2 else question


@dataclass
class ChunkHit:
    chunk_id: str
    text: str
    similarity: float  # cosine similarity with the question
    fused: float = 0.0
    level: str = "chunk"  # "chunk", or "paper" for the whole-abstract entry
    keyword: float = 0.0  # BM25 score relative to the best keyword hit of this question (0..1)


@dataclass
class PaperHit:
    paper_id: str
    title: str
    url: str | None
    relevance: float
    score: float
    chunks: list[ChunkHit] = field(default_factory=list)  # evidence chunks, most similar first
    abstract_similarity: float = 0.0  # of the whole-abstract entry, when it was retrieved
    keyword: float = 0.0  # best relative BM25 score among the paper's hits
    abstract: str = ""  # the whole abstract, once read (with the paper's chunks, or its whole-abstract entry)
    content_hash: str = ""  # of the indexed title and abstract: part of every chunk id
    chunk_total: int = 0  # chunks of the abstract (0: indexed before chunks carried it)
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    doi: str | None = None

    @property
    def best_chunk(self) -> ChunkHit:
        return self.chunks[0]


@dataclass
class Retrieval:
    question: str  # as searched: misspelt words corrected
    papers: list[PaperHit]  # the pool, best first by fused rank (at least k papers when the store has them)
    query_vector: np.ndarray
    mode: str
    k: int = 10  # how many papers the ranking shows


def _records(result: dict[str, Any]) -> dict[str, Record]:
    """A Chroma ``get`` result as chunk id -> (text, metadata, float32 vector)."""
    return {
        chunk_id: (text, meta, np.asarray(vector, dtype=np.float32))
        for chunk_id, text, meta, vector in zip(
            result["ids"], result["documents"], result["metadatas"], result["embeddings"], strict=True
        )
    }


class Retriever:
    """Read-only view of the store that ranks papers for a question. Thread-safe."""

    def __init__(self, store: ChunkStore, embedder: Embedder, settings: Settings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._keyword: KeywordIndex | None = None
        self._keyword_lock = threading.Lock()
        self._cache = ChunkCache()

    # ------------------------------------------------------------ keyword index

    def keyword_index(self) -> KeywordIndex | None:
        """The BM25 index, reloaded or rebuilt when the store has changed since it was built.

        A change shows as a new store generation (one metadata read per question, at any store size).
        """
        with self._keyword_lock:
            generation = self.store.generation()
            current = self._keyword is not None and self._keyword.generation == generation
            if current and not interrupted_ingest(self.settings):
                return self._keyword
            self._cache.clear()  # ids are immutable, but a changed store is read afresh anyway
            if self._keyword is not None and not ingesting_here(self.settings):
                # The store changed: follow it through the recent-vectors log, or reopen it.
                self.store.catch_up(generation, writer_running=ingest_running(self.settings))
            self._keyword = KeywordIndex.load(self.settings.bm25_path)
            stale = self._keyword is None or self._keyword.generation != generation
            # An ingest running elsewhere rebuilds the index when it is done; until then the old one serves.
            if (stale or interrupted_ingest(self.settings)) and not ingest_running(self.settings):
                if self.store.count():
                    # Missing, from a crashed ingest, or changed by another process: rebuild from Chroma.
                    rebuild_keyword_index(self.store, self.settings)
                    self._keyword = KeywordIndex.load(self.settings.bm25_path)
                # The keyword index now matches Chroma; re-running `rag ingest` completes the store.
                clear_interrupted_marker(self.settings)
            return self._keyword

    def _loaded_index(self) -> KeywordIndex | None:
        """The keyword index as the question's retrieval just checked it (no second generation check)."""
        return self._keyword if self._keyword is not None else self.keyword_index()

    def weigh(self, terms: set[str]) -> dict[str, float]:
        """Each stemmed term's IDF in the collection (all 1.0 while there is no keyword index)."""
        index = self._loaded_index()
        return index.idf(terms) if index is not None else dict.fromkeys(terms, 1.0)

    def uses(self, stem: str) -> bool:
        """Whether any indexed text contains the stemmed word (True while there is no keyword index)."""
        index = self._loaded_index()
        return index is None or index.document_frequency(stem) > 0

    def near_words(self, question: str, papers: list[PaperHit]) -> Glossary:
        """The question's words no indexed text uses, each read as the nearest word of the papers' titles and
        abstracts when that is near enough (``rag.neighbours``): "town" as "city"."""
        unknown = {s: w for s, w in words_by_stem(focus_query(question)).items() if not self.uses(s)}
        if not unknown or not papers:
            return {}
        vocabulary = set().union(*(content_terms(f"{paper.title} {paper.abstract}") for paper in papers))
        return nearest_words(unknown, vocabulary)

    def paper_texts(self, paper_ids: list[str]) -> dict[str, str]:
        """Title and full abstract of each paper (stored on the paper's first chunk)."""
        if not paper_ids:
            return {}
        where = {"$and": [{"paper_id": {"$in": list(paper_ids)}}, {"chunk": 0}]}
        result = self.store.read(lambda c: c.get(where=where, include=["metadatas"]))
        return {str(m["paper_id"]): f"{m['title']}\n{m.get('abstract', '')}" for m in result["metadatas"]}

    def hit_texts(self, papers: list[PaperHit]) -> dict[str, str]:
        """``paper_texts`` for retrieved papers: most abstracts came with their chunks, the rest are read."""
        texts = self.paper_texts([p.paper_id for p in papers if not p.abstract])
        texts.update({p.paper_id: f"{p.title}\n{p.abstract}" for p in papers if p.abstract})
        return texts

    # ------------------------------------------------------------ search

    def retrieve(self, question: str, k: int | None = None, mode: RetrieverName | None = None) -> Retrieval:
        k = k or self.settings.top_k
        mode = mode or self.settings.retriever
        if mode not in RETRIEVERS:
            raise OptionError(f"retriever {mode!r} is not one of {', '.join(RETRIEVERS)}")
        index = self.keyword_index()  # first, in every mode: the one check that the store has not changed under us
        if index is not None:  # "papes" -> "papers", "acuracy" -> "accuracy": a misspelt word matches nothing
            question = correct_spelling(question, index.document_frequency)
        query_vector = self.embedder.embed_query(focus_query(question))
        candidates = max(self.settings.candidates, 6 * max(k, POOL))
        dense = self._dense(query_vector, candidates) if mode in ("hybrid", "dense") else []
        keyword = self._keyword_search(question, candidates) if mode in ("hybrid", "bm25") else []
        chunks = self._fuse(dense, keyword, query_vector)
        papers = self._by_paper(chunks, max(k, POOL))
        self._complete_chunks(papers[:EVIDENCE_PAPERS], query_vector)
        return Retrieval(question, papers, query_vector, mode, k)

    def _complete_chunks(self, papers: list[PaperHit], query_vector: np.ndarray) -> None:
        """Give the leading papers every one of their chunks, scored, so evidence can come from any sentence;
        and their abstracts, which their first chunk carries."""
        if not papers:
            return
        by_id = {p.paper_id: p for p in papers}
        if all(p.chunk_total for p in papers):  # every chunk named by id: a lookup, whatever the store's size
            ids = [f"{p.paper_id}:{p.content_hash}:{n}" for p in papers for n in range(p.chunk_total)]
            records = self._chunks(ids)
        else:  # chunks indexed before they carried their paper's chunk total
            records = _records(self.store.get_with_vectors(where={"paper_id": {"$in": list(by_id)}}))
        for chunk_id, (text, meta, vector) in records.items():
            paper = by_id[str(meta["paper_id"])]
            if meta.get("abstract"):
                paper.abstract = str(meta["abstract"])
            if meta.get("level") == "paper" or any(c.chunk_id == chunk_id for c in paper.chunks):
                continue
            similarity = float(np.dot(vector, query_vector))
            paper.chunks.append(ChunkHit(chunk_id, text, similarity, 0.0))
        for paper in papers:
            paper.chunks.sort(key=lambda c: c.similarity, reverse=True)

    def _dense(self, vector: np.ndarray, limit: int) -> list[tuple[str, str, dict[str, Any], float]]:
        nearest = self.store.query(vector, limit)
        records = self._chunks([chunk_id for chunk_id, _ in nearest])
        # a chunk deleted since the vector index was loaded is no longer in the store: left out
        return [(i, records[i][0], records[i][1], s) for i, s in nearest if i in records]

    def _keyword_search(self, question: str, limit: int) -> list[tuple[str, float]]:
        index = self._loaded_index()  # as ``retrieve`` just checked it
        if index is None:
            return []
        return [(h.chunk_id, h.score) for h in index.search(question, limit)]

    def _fuse(
        self,
        dense: list[tuple[str, str, dict[str, Any], float]],
        keyword: list[tuple[str, float]],
        query_vector: np.ndarray,
    ) -> dict[str, tuple[ChunkHit, dict[str, Any]]]:
        """Reciprocal rank fusion over the two chunk rankings; every chunk gets its cosine similarity."""
        rrf_k = self.settings.rrf_k
        hits: dict[str, tuple[ChunkHit, dict[str, Any]]] = {}
        for rank, (chunk_id, text, meta, similarity) in enumerate(dense):
            level = str(meta.get("level", "chunk"))
            hits[chunk_id] = (ChunkHit(chunk_id, text, similarity, 1.0 / (rrf_k + rank + 1), level), meta)
        top_keyword = max((score for _, score in keyword), default=0.0) or 1.0
        keyword_only: dict[str, tuple[float, float]] = {}  # chunk id -> (fused, relative BM25 score)
        for rank, (chunk_id, score) in enumerate(keyword):
            if chunk_id in hits:
                hits[chunk_id][0].fused += 1.0 / (rrf_k + rank + 1)
                hits[chunk_id][0].keyword = score / top_keyword
            else:
                keyword_only[chunk_id] = (1.0 / (rrf_k + rank + 1), score / top_keyword)
        if keyword_only:  # the keyword index holds ids only: read these chunks, and score their relevance too
            closer_first = [-similarity for *_, similarity in dense]  # ascending: the nearest candidate first
            ids = list(keyword_only)
            found = self._chunks(ids)
            for chunk_id in ids:  # in keyword rank order; a chunk deleted since the index was built is skipped
                if chunk_id not in found:
                    continue
                text, meta, vector = found[chunk_id]
                similarity = float(np.dot(vector, query_vector))
                fused, relative = keyword_only[chunk_id]
                fused += self._missed_dense_share(similarity, closer_first)
                level = str(meta.get("level", "chunk"))
                hits[chunk_id] = (ChunkHit(chunk_id, text, similarity, fused, level, relative), meta)
        return hits

    def _chunks(self, ids: list[str]) -> dict[str, Record]:
        """Text, metadata and vector of each chunk id the store holds, through the in-process cache."""
        return self._cache.get(ids, lambda missing: _records(self.store.get_with_vectors(ids=missing)))

    def _missed_dense_share(self, similarity: float, closer_first: list[float]) -> float:
        """The dense share of fusion a keyword-only chunk would have had, had the vector search returned it.

        Chroma's search is approximate: a chunk far from the rest of the store (a paper on a new topic, just
        added) can be missing from the candidates although it is closer to the question than they are. Its
        exact similarity places it in the dense ranking; a chunk no closer than the last candidate gets nothing.
        """
        rank = bisect.bisect_left(closer_first, -similarity)  # candidates closer than this chunk
        return 1.0 / (self.settings.rrf_k + rank + 1) if rank < len(closer_first) else 0.0

    def _by_paper(self, hits: dict[str, tuple[ChunkHit, dict[str, Any]]], k: int) -> list[PaperHit]:
        papers: dict[str, PaperHit] = {}
        fused: dict[str, float] = {}
        for hit, meta in hits.values():
            pid = str(meta["paper_id"])
            paper = papers.get(pid)
            if paper is None:
                paper = papers[pid] = PaperHit(pid, str(meta["title"]), str(meta.get("url") or "") or None, 0.0, 0.0)
                paper.content_hash = str(meta.get("hash", ""))
                paper.chunk_total = int(meta.get("chunks", 0))
                metadata = paper_metadata(meta)
                paper.authors, paper.year, paper.doi = metadata["authors"], metadata["year"], metadata["doi"]
            fused[pid] = max(fused.get(pid, 0.0), hit.fused)
            paper.keyword = max(paper.keyword, hit.keyword)
            if hit.level == "paper":
                paper.abstract_similarity = max(0.0, hit.similarity)
                paper.abstract = hit.text
            else:
                paper.chunks.append(hit)
        for pid, paper in papers.items():
            paper.chunks.sort(key=lambda c: c.similarity, reverse=True)
            best_chunk = paper.chunks[0].similarity if paper.chunks else 0.0
            paper.relevance = max(0.0, best_chunk, paper.abstract_similarity)
            paper.score = fused[pid]
        ranked = sorted(papers.values(), key=lambda p: (p.score, p.relevance), reverse=True)
        return ranked[:k]


__all__ = ["ChunkHit", "PaperHit", "Retrieval", "Retriever", "keyword_text"]
