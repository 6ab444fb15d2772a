"""The recent-vectors log: what each ingest added and removed, for readers in other processes.

Embedded Chroma loads its vector index (HNSW) once per process. Another process's writes stay out of it: a
query misses the new vectors, and reading one by id fails ("Error finding id"), until the store is reopened,
which reads the whole index from disk again (6.7 s at 1M chunks). So every ingest also writes here the ids
and vectors it added and the ids it removed, as one *step* stamped with the store generations it went from
and to. A reader whose index was loaded at generation g searches the steps after g by brute force beside
its stale index (``rag/catchup.py``) instead of reopening.

Layout, under ``RAG_HOME/recent-vectors/``: one ``<generation>.npz`` per step (ids, vectors, removed ids)
and ``manifest.json``, the steps oldest first, each starting at the generation the previous one ended at.
Every file is written under a temporary name and renamed, the step before the manifest that lists it, so a
reader sees a whole manifest, old or new, whose steps exist (until a later ingest trims them).

The log is bounded (``Settings.recent_vectors``, counting vectors added and ids removed): the oldest steps
are dropped past it; an ingest larger than it, a rebuild, a failed ingest, or an ingest that does not follow
on from the last step start the log afresh. A reader the log cannot bring up to date reopens the store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.files import STAGING_PREFIX, write_atomically

FORMAT = 1
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Step:
    """One ingest: the store went from generation ``before`` (stamped ``started`` while it wrote) to ``after``."""

    before: str | None
    started: str
    after: str
    file: str
    size: int  # vectors added plus ids removed


@dataclass(frozen=True)
class Pending:
    """An ingest under way: it stamped ``started`` over ``before`` and has not recorded its step yet."""

    before: str | None
    started: str


@dataclass(frozen=True)
class StepData:
    ids: list[str]
    vectors: np.ndarray  # float32, one row per id
    removed: list[str]


@dataclass(frozen=True)
class Log:
    collection: str
    dimension: int
    steps: tuple[Step, ...] = ()
    pending: Pending | None = None

    def since(self, generation: str | None) -> list[Step] | None:
        """The steps a view of the store loaded at ``generation`` lacks; None when the log does not reach back
        to it. A view loaded while an ingest was writing (at its ``started``) may lack any of that ingest."""
        if generation is None:  # a store from before generations, or empty: nothing to anchor on
            return None
        for n, step in enumerate(self.steps):
            if generation == step.after:
                return list(self.steps[n + 1 :])
            if generation in (step.before, step.started):
                return list(self.steps[n:])
        return None


class LogError(Exception):
    """The log cannot be read as written (missing, damaged, another format): readers reopen instead."""


def load(directory: Path) -> Log:
    """The manifest, checked: each step starts where the previous one ended."""
    try:
        payload = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        if payload.get("format") != FORMAT:
            raise LogError(f"format {payload.get('format')!r}")
        steps = tuple(Step(**step) for step in payload["steps"])
        pending = Pending(**payload["pending"]) if payload.get("pending") else None
        log = Log(str(payload["collection"]), int(payload["dimension"]), steps, pending)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise LogError(str(err)) from None
    if any(later.before != earlier.after for earlier, later in zip(steps, steps[1:], strict=False)):
        raise LogError("the steps do not follow on from each other")
    return log


def read_step(directory: Path, step: Step, dimension: int) -> StepData:
    """One step's ids, vectors and removed ids, checked against what the manifest says of it."""
    try:
        with np.load(directory / step.file, allow_pickle=False) as saved:
            ids = [str(i) for i in saved["ids"]]
            vectors = np.asarray(saved["vectors"], dtype=np.float32)
            removed = [str(i) for i in saved["removed"]]
    except Exception as err:  # numpy raises OSError, ValueError, KeyError or zipfile errors on a damaged file
        raise LogError(f"{step.file}: {err.__class__.__name__}") from None
    if vectors.shape != (len(ids), dimension) or len(ids) + len(removed) != step.size:
        raise LogError(f"{step.file}: {vectors.shape} does not match the manifest")
    return StepData(ids, vectors, removed)


# ---------------------------------------------------------------- writing (one ingest at a time)


def begin(directory: Path, collection: str, dimension: int, before: str | None, started: str) -> None:
    """Note an ingest about to stamp ``started``, so a reader that sees it knows the last step is still whole."""
    log = _load_or_empty(directory, collection, dimension)
    _save(directory, Log(collection, dimension, log.steps, Pending(before, started)))


def record(
    directory: Path,
    collection: str,
    dimension: int,
    step: tuple[str | None, str, str],
    added: tuple[Sequence[str], np.ndarray] | None,
    removed: Sequence[str],
    limit: int,
) -> None:
    """Append an ingest's step (its generations ``before``, ``started``, ``after``), trimming the oldest steps
    past ``limit``. ``added`` None (the ingest failed, rebuilt the store or wrote more than ``limit``) empties
    the log: every reader whose view is older than ``after`` then reopens the store."""
    before, started, after = step
    log = _load_or_empty(directory, collection, dimension)
    size = len(added[0]) + len(removed) if added is not None else 0
    if added is None or size > limit:
        _save(directory, Log(collection, dimension))
        _remove_unlisted(directory, set())
        return
    ids, vectors = added
    new = Step(before, started, after, f"{after}.npz", size)
    write_atomically(
        directory / new.file,
        lambda out: np.savez(
            out,
            ids=np.asarray(list(ids), dtype=str),
            vectors=np.asarray(vectors, dtype=np.float32).reshape(len(ids), dimension),
            removed=np.asarray(list(removed), dtype=str),
        ),
    )
    follows_on = bool(log.steps) and log.steps[-1].after == before
    steps = [*log.steps, new] if follows_on else [new]
    while len(steps) > 1 and sum(s.size for s in steps) > limit:
        steps.pop(0)
    _save(directory, Log(collection, dimension, tuple(steps)))
    _remove_unlisted(directory, {s.file for s in steps})


def _load_or_empty(directory: Path, collection: str, dimension: int) -> Log:
    """The log to extend: an unreadable one, or one of another collection or dimension, starts afresh."""
    try:
        log = load(directory)
    except LogError:
        return Log(collection, dimension)
    return log if (log.collection, log.dimension) == (collection, dimension) else Log(collection, dimension)


def _save(directory: Path, log: Log) -> None:
    payload: dict[str, Any] = {
        "format": FORMAT,
        "collection": log.collection,
        "dimension": log.dimension,
        "steps": [asdict(step) for step in log.steps],
        "pending": asdict(log.pending) if log.pending else None,
    }
    write_atomically(directory / MANIFEST, lambda out: out.write(json.dumps(payload).encode("utf-8")))


def _remove_unlisted(directory: Path, keep: set[str]) -> None:
    """Delete step files the manifest no longer lists, and temporary files a killed ingest left behind."""
    for path in directory.iterdir():
        if (path.suffix == ".npz" and path.name not in keep) or path.name.startswith(STAGING_PREFIX):
            path.unlink(missing_ok=True)
