"""A reader's catch-up with other processes' ingests, from the recent-vectors log (``rag/recent.py``).

A process whose embedded Chroma index was loaded at generation g lacks what ingests since g added and still
holds what they removed. ``CatchUp.follow`` reads the log's steps after g (only the ones it has not read
yet) into ``Recent``: the added vectors, searched by brute force beside the stale index, and the removed ids,
left out of its answers. When the log cannot say (missing, damaged, trimmed past g, out of step with the
store, larger than the limit) ``follow`` returns False and the store is reopened instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag import recent


@dataclass(frozen=True)
class Recent:
    """What a stale view of the store lacks: vectors added since (one unit row per id) and ids removed since."""

    ids: tuple[str, ...] = ()
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    removed: frozenset[str] = frozenset()
    rows: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.ids or self.removed)

    def search(self, query: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """The ``limit`` added vectors most similar to ``query`` (cosine), most similar first."""
        if not self.ids or limit <= 0:
            return []
        unit = np.asarray(query, dtype=np.float32)
        scores = self.vectors @ (unit / max(float(np.linalg.norm(unit)), 1e-12))
        best = np.argsort(-scores)[:limit] if len(scores) <= limit else np.argpartition(-scores, limit)[:limit]
        best = best[np.argsort(-scores[best])]
        return [(self.ids[n], float(scores[n])) for n in best]

    def vector(self, chunk_id: str) -> np.ndarray | None:
        row = self.rows.get(chunk_id)
        return None if row is None else self.vectors[row]


def net(steps: list[recent.StepData], dimension: int, start: Recent | None = None) -> Recent:
    """The store's change over ``steps`` in order, after ``start``: a later removal cancels an addition, and
    the other way round."""
    added: dict[str, np.ndarray] = dict(zip(start.ids, start.vectors, strict=True)) if start else {}
    removed: set[str] = set(start.removed) if start else set()
    for step in steps:
        for chunk_id in step.removed:  # an ingest writes a paper's new chunks before deleting its old ones
            removed.add(chunk_id)
            added.pop(chunk_id, None)
        for chunk_id, vector in zip(step.ids, step.vectors, strict=True):
            added[chunk_id] = vector
            removed.discard(chunk_id)
    ids = tuple(added)
    vectors = np.stack(list(added.values())) if added else np.zeros((0, dimension), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
    return Recent(ids, vectors, frozenset(removed), {chunk_id: n for n, chunk_id in enumerate(ids)})


class CatchUp:
    """Follows the log for one store. ``recent`` is replaced whole, so threads may read it while it moves on."""

    def __init__(self, directory: Path, collection: str, dimension: int, limit: int) -> None:
        self.directory = directory
        self.collection = collection
        self.dimension = dimension
        self.limit = limit
        self.recent = Recent()
        self._files: tuple[str, ...] = ()  # the steps ``recent`` holds, in order

    def follow(self, view: str | None, current: str | None, writer_running: bool) -> bool:
        """Make ``recent`` hold what a view loaded at ``view`` lacks of the store at ``current``.

        While another process's ingest is writing (its ``started`` is ``current``), the steps before it serve.
        False when the log cannot bring the view up to date: the caller reopens the store.
        """
        try:
            log = recent.load(self.directory)
        except recent.LogError:
            return False
        steps = log.since(view) if (log.collection, log.dimension) == (self.collection, self.dimension) else None
        if steps is None:
            return False
        end = steps[-1].after if steps else view
        in_flight = log.pending is not None and (log.pending.before, log.pending.started) == (end, current)
        if end != current and not (in_flight and writer_running):
            return False
        if sum(step.size for step in steps) > self.limit:
            return False
        files = tuple(step.file for step in steps)
        if files == self._files:
            return True
        # Steps after the ones already held are added to them; otherwise every step is read again.
        known = len(self._files) if files[: len(self._files)] == self._files else 0
        try:
            read = [recent.read_step(self.directory, step, self.dimension) for step in steps[known:]]
        except recent.LogError:
            return False
        self.recent = net(read, self.dimension, self.recent if known else None)
        self._files = files
        return True

    def clear(self) -> None:
        """The view is current again (reopened, or brought up to date by this process's own writes)."""
        self.recent = Recent()
        self._files = ()
