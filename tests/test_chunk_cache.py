"""The in-process chunk cache: each id is read from the store once, and the cache stays bounded."""

from __future__ import annotations

import numpy as np

from rag.chunk_cache import ChunkCache


def test_each_chunk_is_read_once_and_missing_ids_stay_missing() -> None:
    reads: list[list[str]] = []

    def read(ids: list[str]) -> dict:
        reads.append(ids)
        return {i: (f"text {i}", {"paper_id": i}, np.zeros(3, dtype=np.float32)) for i in ids if i != "gone"}

    cache = ChunkCache(capacity=10)
    first = cache.get(["a", "b", "gone"], read)
    second = cache.get(["b", "c", "gone"], read)
    assert set(first) == {"a", "b"} and set(second) == {"b", "c"}
    assert reads == [["a", "b", "gone"], ["c", "gone"]]  # a deleted chunk is asked for again, never invented


def test_the_oldest_entries_go_beyond_capacity() -> None:
    cache = ChunkCache(capacity=2)

    def read(ids: list[str]) -> dict:
        return {i: (i, {}, np.zeros(1, dtype=np.float32)) for i in ids}

    cache.get(["a", "b"], read)
    cache.get(["a"], read)  # "a" used again: "b" is now the oldest
    cache.get(["c"], read)
    asked: list[str] = []
    cache.get(["a", "b", "c"], lambda ids: asked.extend(ids) or read(ids))
    assert asked == ["b"]
