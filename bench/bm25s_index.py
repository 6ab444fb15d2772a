"""The keyword index the product used before tantivy (bm25s, rebuilt whole on every ingest), kept as the
baseline ``bench`` measures the tantivy index against (``python -m bench.keyword``).

The BM25 keyword index kept beside Chroma (bm25s, the engine under llama-index's ``BM25Retriever``).

It holds the term statistics and each entry's chunk id, nothing else: a hit's text, metadata and vector
are read from Chroma, which already stores them. (llama-index's retriever also keeps a full copy of every
node, in memory and on disk: at 87k chunks its index took 199 MB of disk to this one's 35 MB, and a process
answering questions grew by 580 MB to this one's 303 MB.)

It is derived data: always rebuilt from the chunks in Chroma, written to a temporary directory and
swapped in whole, so a crash never leaves a half-written index behind. It is memory-mapped when loaded,
so opening a large index is instant and only the postings that questions touch are read.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rag.keyword import KeywordHit, keyword_text
from rag.keyword import tokenize as _tokenize

MANIFEST = "manifest.json"
IDS = "chunk_ids.npy"
FORMAT = 3  # 1 was llama-index's persisted BM25Retriever; 2 kept "AIME2024" as one token


class KeywordIndex:
    def __init__(self, bm25: Any, chunk_ids: np.ndarray, generation: str | None) -> None:
        self._bm25 = bm25
        self._chunk_ids = chunk_ids  # bytes, one per indexed entry, in index order
        self.chunk_count = len(chunk_ids)
        self.generation = generation  # the store's generation this index was built from

    @classmethod
    def build(
        cls, ids: list[str], texts: list[str], metas: list[dict[str, Any]], generation: str | None = None
    ) -> KeywordIndex | None:
        if not ids:
            return None
        import bm25s

        corpus = [keyword_text(meta, text) for text, meta in zip(texts, metas, strict=True)]
        bm25 = bm25s.BM25()
        bm25.index(_tokenize(corpus), show_progress=False)
        return cls(bm25, np.array([chunk_id.encode() for chunk_id in ids], dtype=bytes), generation)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".keyword-", dir=path.parent))
        self._bm25.save(str(staging), show_progress=False)
        np.save(staging / IDS, self._chunk_ids, allow_pickle=False)
        (staging / MANIFEST).write_text(
            json.dumps({"chunks": self.chunk_count, "format": FORMAT, "generation": self.generation})
        )
        old = path.with_name(path.name + ".old")
        if path.exists():
            os.replace(path, old)
        os.replace(staging, path)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, path: Path, numba_from: int | None = None) -> KeywordIndex | None:
        """The saved index, or None when it is missing, unreadable or of an older format (the caller rebuilds).

        Indexes of ``numba_from`` chunks or more score with bm25s's numba backend: numpy's scatter-add over
        the postings of common words takes up to 300 ms a question at 1M chunks, numba's 5 ms, after a
        one-off compilation of about 6 s in each process.
        """
        manifest = path / MANIFEST
        if not manifest.exists():
            return None
        try:
            import bm25s

            saved = json.loads(manifest.read_text())
            if saved.get("format") != FORMAT:
                return None
            chunk_ids = np.load(path / IDS, mmap_mode="r", allow_pickle=False)
            numba = numba_from is not None and len(chunk_ids) >= numba_from
            bm25 = bm25s.BM25.load(
                str(path),
                mmap=True,
                override_params={"backend": "numba" if numba else "numpy"},
                show_progress=False,
                verbosity=0,
            )
            if len(chunk_ids) != int(saved["chunks"]) or int(bm25.scores["num_docs"]) != len(chunk_ids):
                return None
            return cls(bm25, chunk_ids, saved.get("generation"))
        except Exception:
            return None

    def search(self, query: str, limit: int) -> list[KeywordHit]:
        """The best ``limit`` entries for ``query`` with a positive BM25 score, best first. Thread-safe."""
        tokens = _tokenize([query])
        try:
            indexes, scores = self._bm25.retrieve(tokens, k=max(1, min(limit, self.chunk_count)), show_progress=False)
        except Exception:  # a query with no indexable words
            return []
        return [
            KeywordHit(self._chunk_ids[index].decode(), float(score))
            for index, score in zip(indexes[0], scores[0], strict=True)
            if score > 0
        ]
