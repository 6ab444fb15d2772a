"""A reader catching up with another process's ingest without reopening embedded Chroma (the recent-vectors log).

Real Chroma, the real model and a real `rag ingest` in another process: this test process holds the store
open (its vector index loaded by a first question) while the other process writes, then asks again. A reopen
would show in ``ChunkStore.reopens`` and in a new client object.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_rag

from rag import recent
from rag.assistant import AskOptions, Assistant
from rag.catchup import CatchUp
from rag.config import Settings
from rag.embeddings import DIMENSION

OKAPI = {
    "title": "OkapiNet: Spotting Okapis",
    "abstract": "We count okapis in rainforest camera traps. OkapiNet finds 41 okapis in 300 hours of footage.",
}
ASYNCFLOW_TITLE = "AsyncFlow: An Asynchronous Streaming RL Framework for Efficient LLM Post-Training"
ASYNCFLOW_NOW = {  # the bundled paper, its abstract replaced
    "title": ASYNCFLOW_TITLE,
    "abstract": "We present AsyncFlow, a streaming reinforcement learning framework for post-training. "
    "AsyncFlow reports a 2.73x throughput improvement over its baseline on 512 NPUs.",
}
OKAPI_QUESTION = "How many okapis did OkapiNet find?"
EXTRACTIVE = AskOptions(answerer="extractive")


def ingest_elsewhere(
    home: Path, tmp_path: Path, *papers: dict[str, str], args: tuple[str, ...] = (), **env: str
) -> None:
    """`rag ingest` in another process, as a second user or a UI replica's writer would run it."""
    corpus = tmp_path / f"corpus-{len(list(tmp_path.glob('corpus-*')))}.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in papers))
    result = run_rag(home, "ingest", str(corpus), *args, **env)
    assert result.returncode == 0, result.stderr


@pytest.fixture()
def reader(bundled_home: Path) -> Assistant:
    """An Assistant over the store whose vector index is loaded (it has answered a question)."""
    assistant = Assistant(Settings(home=bundled_home))
    assert "41 okapis" not in assistant.ask(OKAPI_QUESTION, EXTRACTIVE).text
    return assistant


def test_a_reader_answers_with_another_process_papers_without_reopening(
    reader: Assistant, bundled_home: Path, tmp_path: Path
) -> None:
    client, store = reader.store.client, reader.store
    ingest_elsewhere(bundled_home, tmp_path, OKAPI)
    answer = reader.ask(OKAPI_QUESTION, EXTRACTIVE)
    assert answer.citations[0].title == OKAPI["title"] and "41 okapis" in answer.text
    dense = reader.retriever.retrieve(OKAPI_QUESTION, mode="dense")  # no keyword hit to lean on
    assert dense.papers[0].title == OKAPI["title"] and dense.papers[0].relevance > 0.5
    assert store.reopens == 0 and store.client is client
    stale = store.collection.query(query_embeddings=[dense.query_vector], n_results=5)["ids"][0]
    assert not any(chunk_id.startswith(dense.papers[0].paper_id) for chunk_id in stale)  # Chroma alone: not found


def test_a_replaced_papers_old_chunks_are_not_returned(reader: Assistant, bundled_home: Path, tmp_path: Path) -> None:
    store = reader.store
    asyncflow = next(p for p in reader.papers() if p.title == ASYNCFLOW_TITLE)
    old_ids = store.ids_for_papers([asyncflow.id])[asyncflow.id]
    old_vectors = store.collection.get(ids=sorted(old_ids), include=["embeddings"])["embeddings"]
    ingest_elsewhere(bundled_home, tmp_path, ASYNCFLOW_NOW)
    answer = reader.ask("What throughput improvement does AsyncFlow report?", EXTRACTIVE)
    assert answer.citations[0].title == ASYNCFLOW_TITLE
    assert "2.73x" in answer.text and "1.59" not in answer.text
    for mode in ("hybrid", "dense"):
        retrieval = reader.retriever.retrieve("AsyncFlow asynchronous streaming RL throughput", mode=mode)
        returned = {c.chunk_id for p in retrieval.papers for c in p.chunks}
        assert retrieval.papers[0].title == ASYNCFLOW_TITLE and not returned & old_ids
    # Chroma's stale index still holds an old chunk (deleted, so without its text); the store leaves it out.
    assert set(store.collection.query(query_embeddings=[old_vectors[0]], n_results=3)["ids"][0]) & old_ids
    assert not {hit[0] for hit in store.query(np.asarray(old_vectors[0]), 60)} & old_ids
    assert store.reopens == 0


def test_a_reader_that_ingests_itself_still_sees_the_other_process_papers(
    reader: Assistant, bundled_home: Path, tmp_path: Path
) -> None:
    """Its own writes do not reliably bring its index up to date with another process's (larger ingests stay
    out), so the log keeps serving them."""
    ingest_elsewhere(bundled_home, tmp_path, OKAPI)
    zebra = {"title": "ZebraNet", "abstract": "We count zebras. ZebraNet finds 12 zebras in the park."}
    corpus = tmp_path / "zebra.jsonl"
    corpus.write_text(json.dumps(zebra) + "\n")
    reader.ingest_paths([corpus])
    assert reader.ask(OKAPI_QUESTION, EXTRACTIVE).citations[0].title == OKAPI["title"]
    assert reader.ask("How many zebras did ZebraNet find?", EXTRACTIVE).citations[0].title == "ZebraNet"
    assert reader.store.reopens == 0


@pytest.mark.parametrize("damage", ["manifest", "step"])
def test_a_damaged_log_means_reopening(reader: Assistant, bundled_home: Path, tmp_path: Path, damage: str) -> None:
    ingest_elsewhere(bundled_home, tmp_path, OKAPI)
    log = Settings(home=bundled_home).recent_path
    target = log / (recent.MANIFEST if damage == "manifest" else recent.load(log).steps[-1].file)
    target.write_bytes(b"\x00garbage{")
    answer = reader.ask(OKAPI_QUESTION, EXTRACTIVE)
    assert answer.citations[0].title == OKAPI["title"] and "41 okapis" in answer.text
    assert reader.store.reopens == 1


@pytest.mark.parametrize("how", ["past the limit", "rebuild"])
def test_an_ingest_the_log_does_not_hold_means_reopening(
    reader: Assistant, bundled_home: Path, tmp_path: Path, how: str
) -> None:
    if how == "rebuild":
        ingest_elsewhere(bundled_home, tmp_path, OKAPI, args=("--rebuild",))
    else:
        ingest_elsewhere(bundled_home, tmp_path, OKAPI, RAG_RECENT_VECTORS="1")
    assert recent.load(Settings(home=bundled_home).recent_path).steps == ()
    answer = reader.ask(OKAPI_QUESTION, EXTRACTIVE)
    assert answer.citations[0].title == OKAPI["title"] and "41 okapis" in answer.text
    assert reader.store.reopens == 1
    assert len(reader.papers()) == (1 if how == "rebuild" else 81)


# ---------------------------------------------------------------- the log itself (real files)


def _vectors(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _record(directory: Path, before: str | None, after: str, ids: list[str], removed: list[str], limit: int) -> None:
    added = (ids, _vectors(len(ids), seed=len(after)))
    recent.record(directory, "papers", DIMENSION, (before, f"{after}-started", after), added, removed, limit)


def test_the_log_trims_its_oldest_steps_and_starts_afresh_when_the_chain_breaks(tmp_path: Path) -> None:
    log = tmp_path / "recent"
    _record(log, "g0", "g1", ["a", "b"], [], limit=5)
    _record(log, "g1", "g2", ["c"], ["a"], limit=5)
    assert [s.after for s in recent.load(log).steps] == ["g1", "g2"]
    _record(log, "g2", "g3", ["d", "e"], [], limit=5)  # 2 + 2 + 2 > 5: the oldest step goes
    saved = recent.load(log)
    assert [s.after for s in saved.steps] == ["g2", "g3"] and sorted(p.name for p in log.glob("*.npz")) == [
        "g2.npz",
        "g3.npz",
    ]
    assert saved.since("g0") is None and [s.after for s in saved.since("g1") or []] == ["g2", "g3"]
    assert saved.since("g3") == [] and saved.since("g3-started") == list(saved.steps[-1:])
    _record(log, "elsewhere", "g4", ["f"], [], limit=5)  # does not follow on from g3: a new chain
    assert [s.after for s in recent.load(log).steps] == ["g4"] and recent.load(log).since("g2") is None


def test_following_the_log_nets_out_removals_and_waits_for_an_ingest_in_flight(tmp_path: Path) -> None:
    log = tmp_path / "recent"
    _record(log, "g0", "g1", ["a", "b"], ["old"], limit=100)
    follower = CatchUp(log, "papers", DIMENSION, limit=100)
    assert follower.follow("g0", "g1", writer_running=False)
    assert follower.recent.ids == ("a", "b") and follower.recent.removed == {"old"}
    _record(log, "g1", "g2", ["c"], ["a"], limit=100)
    assert follower.follow("g0", "g2", writer_running=False)  # reads only the new step
    assert follower.recent.ids == ("b", "c") and follower.recent.removed == {"old", "a"}
    fresh = CatchUp(log, "papers", DIMENSION, limit=100)
    assert fresh.follow("g0", "g2", writer_running=False) and np.array_equal(
        fresh.recent.vectors, follower.recent.vectors
    )
    assert follower.recent.ids == ("b", "c") and follower.recent.removed == {"old", "a"}
    query = follower.recent.vector("c")
    assert query is not None and follower.recent.search(query, 1)[0] == ("c", pytest.approx(1.0))
    assert not follower.follow("g0", "g9", writer_running=False)  # a generation the log never reached
    recent.begin(log, "papers", DIMENSION, "g2", "g3-started")
    assert follower.follow("g0", "g3-started", writer_running=True)  # the steps so far serve meanwhile
    assert not follower.follow("g0", "g3-started", writer_running=False)  # the writer died mid-ingest
    assert not CatchUp(log, "papers", DIMENSION, limit=3).follow("g0", "g2", writer_running=False)  # too large
