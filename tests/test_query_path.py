"""The query path that scales: reads by id, a keyword index of ids, and the store generation.

Real Chroma and the real model throughout; the old-store cases rewrite a real store the way an earlier
version of rag left it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.assistant import AskOptions, Assistant
from rag.config import Settings
from rag.keyword import FORMAT, MANIFEST, KeywordIndex
from rag.retrieve import focus_query
from rag.store import ChunkStore

ASYNCFLOW = "What throughput improvement does AsyncFlow report?"
COT = "Which papers say chain-of-thought hurts performance?"
OKAPI = {
    "title": "OkapiNet: Spotting Okapis",
    "abstract": "We count okapis in rainforest camera traps. OkapiNet finds 41 okapis in 300 hours of footage.",
}


def summary(assistant: Assistant, question: str) -> tuple[str, list[str], list[str]]:
    """The answer, its citations and the head of its ranking. (Not the ranking's tail: rewriting every chunk's
    metadata, as the old-store test does, rebuilds Chroma's approximate index, whose lowest candidates vary.)"""
    answer = assistant.ask(question, AskOptions(answerer="extractive"))
    return answer.text, [c.title for c in answer.citations], answer.retrieved[:5]


def test_reading_the_store_in_pages_returns_every_chunk_once(bundled_assistant: Assistant) -> None:
    store = bundled_assistant.store
    ids, docs, metas = store.all_chunks(batch=97)  # 606 entries: seven pages, the last one short
    assert len(ids) == len(set(ids)) == store.count() == len(docs) == len(metas)
    assert set(ids) == set(store.all_chunks()[0])


def test_a_paper_the_vector_search_missed_keeps_its_place_through_its_keyword_hits(
    bundled_assistant: Assistant,
) -> None:
    """Chroma's search is approximate: a chunk it leaves out is placed by its exact similarity instead."""
    retriever = bundled_assistant.retriever
    vector = retriever.embedder.embed_query(focus_query(ASYNCFLOW))
    dense, keyword = retriever._dense(vector, 60), retriever._keyword_search(ASYNCFLOW, 60)
    complete = retriever._by_paper(retriever._fuse(dense, keyword, vector), 10)
    assert "AsyncFlow" in complete[0].title
    missed = [hit for hit in dense if "AsyncFlow" not in hit[2]["title"]]  # as if the index had lost its way
    assert len(missed) < len(dense)
    degraded = retriever._by_paper(retriever._fuse(missed, keyword, vector), 10)
    assert degraded[0].title == complete[0].title
    assert degraded[0].relevance == pytest.approx(complete[0].relevance, abs=1e-5)  # exact dot vs. Chroma distance


def test_every_chunk_records_its_papers_chunk_total(bundled_assistant: Assistant) -> None:
    _, _, metas = bundled_assistant.store.all_chunks()
    per_paper: dict[str, int] = {}
    for meta in metas:
        if meta.get("level") != "paper":
            per_paper[meta["paper_id"]] = per_paper.get(meta["paper_id"], 0) + 1
    assert all(meta["chunks"] == per_paper[meta["paper_id"]] for meta in metas)


def test_keyword_hits_are_ids_that_chroma_holds(bundled_assistant: Assistant) -> None:
    index = bundled_assistant.retriever.keyword_index()
    assert index is not None
    hits = index.search("AsyncFlow asynchronous streaming RL throughput", 20)
    assert hits and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    stored = bundled_assistant.store.collection.get(ids=[h.chunk_id for h in hits], include=["metadatas"])
    assert len(stored["ids"]) == len(hits)
    assert "AsyncFlow" in stored["metadatas"][stored["ids"].index(hits[0].chunk_id)]["title"]
    assert index.search("the of and", 20) == []  # stop words only: nothing to match


def test_the_keyword_index_grows_in_place_and_matches_a_rebuild(bundled_home: Path, tmp_path: Path) -> None:
    """An ingest adds a segment and deletes replaced chunks; the segments already written are left alone."""
    settings = Settings(home=bundled_home)
    before = {p.name for p in settings.bm25_path.iterdir() if p.suffix == ".idx"}
    corpus = tmp_path / "okapi.jsonl"
    corpus.write_text(json.dumps(OKAPI) + "\n")
    assistant = Assistant(settings)
    assistant.ingest_paths([corpus])
    changed = {**OKAPI, "abstract": OKAPI["abstract"].replace("41 okapis", "43 okapis")}
    corpus.write_text(json.dumps(changed) + "\n")
    report = assistant.ingest_paths([corpus])
    assert report.papers_updated == 1 and report.chunks_deleted > 0
    index = KeywordIndex.load(settings.bm25_path)
    assert index is not None and index.chunk_count == assistant.store.count()
    after = {p.name for p in settings.bm25_path.iterdir() if p.suffix == ".idx"}
    assert before <= after and len(after) > len(before)  # the old segment files are untouched
    live = set(assistant.store.all_chunks()[0])
    grown = index.search("okapis camera trap", 50)
    assert grown and {h.chunk_id for h in grown} <= live  # no hit on a replaced chunk
    rebuilt_home = tmp_path / "rebuilt"
    shutil.copytree(bundled_home, rebuilt_home)
    shutil.rmtree(Settings(home=rebuilt_home).bm25_path)
    rebuilt = Assistant(Settings(home=rebuilt_home)).retriever.keyword_index()
    assert rebuilt is not None and rebuilt.chunk_count == index.chunk_count
    for question in ("okapis camera trap", ASYNCFLOW, COT):
        assert {h.chunk_id for h in rebuilt.search(question, 20)} == {h.chunk_id for h in index.search(question, 20)}


def test_citations_carry_the_whole_abstract(bundled_assistant: Assistant) -> None:
    answer = bundled_assistant.ask(ASYNCFLOW, AskOptions(answerer="extractive"))
    assert answer.citations
    for citation in answer.citations:
        assert citation.evidence.split(" ")[0] in citation.abstract and len(citation.abstract) > len(citation.evidence)


def test_a_reader_sees_another_ingest_through_the_generation(bundled_home: Path, tmp_path: Path) -> None:
    reader = Assistant(Settings(home=bundled_home))
    before = reader.ask("How many okapis did OkapiNet find?", AskOptions(answerer="extractive"))
    assert "41 okapis" not in before.text
    generation = reader.store.generation()
    corpus = tmp_path / "okapi.jsonl"
    corpus.write_text(json.dumps(OKAPI) + "\n")
    writer = Assistant(Settings(home=bundled_home))
    writer.ingest_paths([corpus])
    assert reader.store.generation() != generation  # a new token, read afresh, not the one opened with
    after = reader.ask("How many okapis did OkapiNet find?", AskOptions(answerer="extractive"))
    assert after.citations[0].title == OKAPI["title"] and "41 okapis" in after.text
    keyword = reader.retriever.keyword_index()
    assert keyword is not None and keyword.generation == reader.store.generation()
    assert keyword.chunk_count == reader.store.count()


def test_a_store_from_before_chunk_totals_answers_the_same(bundled_index: Path, tmp_path: Path) -> None:
    """Chunks written without ``chunks`` (and a llama-index keyword index) still answer, through the filters."""
    old_home = tmp_path / "old"
    shutil.copytree(bundled_index, old_home)
    store = ChunkStore(Settings(home=old_home))
    ids = store.all_chunks()[0]
    store.collection.update(ids=ids, metadatas=[{"chunks": None}] * len(ids))  # None deletes the key
    assert all("chunks" not in m for m in store.all_chunks()[2])
    bm25 = Settings(home=old_home).bm25_path
    (bm25 / MANIFEST).write_text(json.dumps({"chunks": len(ids)}))  # the format an earlier version wrote
    assert KeywordIndex.load(bm25) is None  # not read as this version's index: rebuilt on first use
    old, fresh = Assistant(Settings(home=old_home)), Assistant(Settings(home=bundled_index))
    for question in (ASYNCFLOW, COT):
        assert summary(old, question) == summary(fresh, question)
    assert old.papers() == fresh.papers()  # listed from every chunk, as before
    assert json.loads((bm25 / MANIFEST).read_text()).get("format") == FORMAT


@pytest.mark.parametrize("question", [ASYNCFLOW, COT])
def test_every_citation_carries_its_whole_abstract(bundled_assistant: Assistant, question: str) -> None:
    answer = bundled_assistant.ask(question, AskOptions(answerer="extractive"))
    abstracts = {c.paper_id: c.abstract for c in answer.citations}
    assert answer.citations and all(abstracts.values())
    texts = bundled_assistant.retriever.paper_texts(list(abstracts))
    assert all(texts[pid].split("\n", 1)[1] == abstract for pid, abstract in abstracts.items())
