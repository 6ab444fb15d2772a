"""The BM25 keyword index kept beside Chroma (llama-index's ``BM25Retriever`` over bm25s).

It is derived data: always rebuilt from the chunks in Chroma, written to a temporary directory and
swapped in whole, so a crash never leaves a half-written index behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float
    text: str
    metadata: dict[str, Any]


class KeywordIndex:
    def __init__(self, retriever: Any, chunk_count: int) -> None:
        self._retriever = retriever
        self.chunk_count = chunk_count
        self._lock = threading.Lock()

    @classmethod
    def build(cls, ids: list[str], texts: list[str], metas: list[dict[str, Any]]) -> KeywordIndex | None:
        if not ids:
            return None
        from llama_index.core.schema import TextNode
        from llama_index.retrievers.bm25 import BM25Retriever

        nodes = [
            TextNode(id_=chunk_id, text=keyword_text(meta, text), metadata=dict(meta))
            for chunk_id, text, meta in zip(ids, texts, metas, strict=True)
        ]
        # Metadata stays out of the indexed text; the title is already part of keyword_text.
        for node in nodes:
            node.excluded_embed_metadata_keys = list(node.metadata)
        retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(100, len(nodes)))
        return cls(retriever, len(ids))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".keyword-", dir=path.parent))
        self._retriever.persist(str(staging))
        (staging / MANIFEST).write_text(json.dumps({"chunks": self.chunk_count}))
        old = path.with_name(path.name + ".old")
        if path.exists():
            os.replace(path, old)
        os.replace(staging, path)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, path: Path) -> KeywordIndex | None:
        """The saved index, or None when it is missing or unreadable (the caller rebuilds it)."""
        manifest = path / MANIFEST
        if not manifest.exists():
            return None
        try:
            from llama_index.retrievers.bm25 import BM25Retriever

            count = int(json.loads(manifest.read_text())["chunks"])
            return cls(BM25Retriever.from_persist_dir(str(path)), count)
        except Exception:
            return None

    def search(self, query: str, limit: int) -> list[KeywordHit]:
        with self._lock:  # similarity_top_k is retriever state
            self._retriever.similarity_top_k = max(1, min(limit, self.chunk_count))
            try:
                results = self._retriever.retrieve(query)
            except Exception:  # a query with no indexable words
                return []
        return [
            KeywordHit(r.node.node_id, float(r.score or 0.0), chunk_of(r.node.get_content()), dict(r.node.metadata))
            for r in results
            if (r.score or 0.0) > 0
        ]


def keyword_text(meta: dict[str, Any], chunk_text: str) -> str:
    """What both retrievers see for a chunk: its paper's title, then the chunk."""
    return f"{meta.get('title', '')}\n{chunk_text}"


def chunk_of(text: str) -> str:
    """The chunk part of ``keyword_text``."""
    return text.split("\n", 1)[1] if "\n" in text else text
