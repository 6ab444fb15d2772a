"""The real pipeline: real Chroma, the real bundled model, the bundled corpus and small written corpora."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rag.assistant import Assistant
from rag.config import BUNDLED_CORPUS, Settings
from rag.corpus import load_file
from rag.store import ChunkStore

MIND_YOUR_STEP = (
    "Mind Your Step (by Step): Chain-of-Thought can Reduce Performance on Tasks where Thinking Makes Humans Worse"
)
WHEN_THINKING_FAILS = "When Thinking Fails: The Pitfalls of Reasoning for Instruction-Following in LLMs"

ZEBRA = (
    "We introduce ZebraNet, a graph network that counts zebra stripes in aerial photographs. "
    "ZebraNet reaches 97.5% counting accuracy on the StripeCount dataset. "
    "It runs on a single laptop CPU in under a second per image."
)
ZEBRA_CHANGED = (
    "We introduce ZebraNet, a transformer that counts giraffe spots in drone footage. "
    "ZebraNet reaches 88.1% counting accuracy on the SpotCount benchmark. "
    "Training takes four hours on one consumer GPU."
)


def counts(home: Path) -> tuple[int, int]:
    store = ChunkStore(Settings(home=home))
    return len(store.papers()), store.count()


def test_cot_question_cites_both_papers_with_their_sentences(bundled_assistant: Assistant) -> None:
    answer = bundled_assistant.ask("Which papers say chain-of-thought hurts performance?")
    assert not answer.abstained and answer.mode == "extractive"
    cited = {c.title: c for c in answer.citations}
    assert MIND_YOUR_STEP in cited and WHEN_THINKING_FAILS in cited
    assert "reduce" in cited[MIND_YOUR_STEP].evidence.lower() or "hurt" in cited[MIND_YOUR_STEP].evidence.lower()
    assert re.search("hurt|degrad|drop", cited[WHEN_THINKING_FAILS].evidence.lower())
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.body
        assert citation.evidence and citation.evidence in answer.text
    assert len(answer.retrieved) >= 10
    assert answer.latency_ms > 0


def test_off_topic_question_abstains_and_shows_related(bundled_assistant: Assistant) -> None:
    answer = bundled_assistant.ask("What is the capital of Australia?")
    assert answer.abstained
    assert answer.citations == []
    assert "don't answer" in answer.text
    assert len(answer.related) == 3


def test_every_citation_marker_maps_to_a_retrieved_paper(bundled_assistant: Assistant) -> None:

    for question in (
        "What throughput improvement does AsyncFlow report?",
        "How do Copyright Traps and unique identifiers differ in protecting copyrighted text?",
        "Which papers study theory of mind?",
    ):
        answer = bundled_assistant.ask(question)
        numbers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.body)}
        assert numbers == {c.n for c in answer.citations}
        assert all(c.title in answer.retrieved for c in answer.citations)


def test_ingest_twice_gives_identical_counts(bundled_home: Path) -> None:
    before = counts(bundled_home)
    assert before[0] == 80
    report = Assistant(Settings(home=bundled_home)).ingest_paths([BUNDLED_CORPUS])
    assert report.papers_unchanged == 80 and report.chunks_written == 0
    assert counts(bundled_home) == before


def test_changed_abstract_replaces_its_chunks(tmp_path: Path, rag_home: Path) -> None:
    corpus = tmp_path / "zebra.jsonl"
    corpus.write_text(json.dumps({"title": "ZebraNet: Counting Stripes", "abstract": ZEBRA}) + "\n")
    assistant = Assistant(Settings(home=rag_home))
    assistant.ingest_paths([corpus])
    assert counts(rag_home)[0] == 1
    corpus.write_text(json.dumps({"title": "ZebraNet: Counting Stripes", "abstract": ZEBRA_CHANGED}) + "\n")
    report = assistant.ingest_paths([corpus])
    assert report.papers_updated == 1 and report.chunks_deleted >= 1
    store = ChunkStore(Settings(home=rag_home))
    _, docs, metas = store.all_chunks()
    text = " ".join(docs)
    assert "giraffe" in text and "stripes in aerial" not in text
    assert {m["hash"] for m in metas} == {load_file(corpus)[0].content_hash}
    answer = assistant.ask("What accuracy does ZebraNet reach on SpotCount?")
    assert "88.1%" in answer.text
    keyword = assistant.retriever.keyword_index()
    assert keyword is not None and keyword.chunk_count == store.count()


def test_rebuild_starts_from_empty(tmp_path: Path, rag_home: Path) -> None:
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps({"title": "ZebraNet: Counting Stripes", "abstract": ZEBRA}) + "\n")
    second = tmp_path / "second.jsonl"
    second.write_text(json.dumps({"title": "GiraffeNet", "abstract": ZEBRA_CHANGED}) + "\n")
    assistant = Assistant(Settings(home=rag_home))
    assistant.ingest_paths([first])
    assistant.ingest_paths([second], rebuild=True)
    assert [p.title for p in assistant.papers()] == ["GiraffeNet"]


def test_three_formats_ingest_together(tmp_path: Path, rag_home: Path) -> None:
    (tmp_path / "a.txt").write_text(f"Daily Papers\n\nZebraNet: Counting Stripes\n\n{ZEBRA}\n")
    (tmp_path / "b.jsonl").write_text(json.dumps({"title": "GiraffeNet", "abstract": ZEBRA_CHANGED}) + "\n")
    (tmp_path / "c.bib").write_text(
        "@misc{okapi, title={OkapiNet: Spotting Okapis}, abstract={We count okapis in rainforest camera traps. "
        "OkapiNet finds 41 okapis in 300 hours of footage. It is the first okapi counter.}}\n"
    )
    assistant = Assistant(Settings(home=rag_home))
    report = assistant.ingest_paths([tmp_path / "a.txt", tmp_path / "b.jsonl", tmp_path / "c.bib"])
    assert report.papers_added == 3 and report.papers_total == 3
    answer = assistant.ask("How many okapis did OkapiNet find?")
    assert answer.citations[0].title == "OkapiNet: Spotting Okapis"
    assert "41 okapis" in answer.text


def test_first_question_indexes_the_bundled_corpus(rag_home: Path) -> None:
    messages: list[str] = []
    assistant = Assistant(Settings(home=rag_home), announce=messages.append)
    answer = assistant.ask("What throughput improvement does AsyncFlow report over the baseline?")
    assert messages and "indexing the bundled corpus" in messages[0]
    assert "1.59" in answer.text
    assert counts(rag_home)[0] == 80
