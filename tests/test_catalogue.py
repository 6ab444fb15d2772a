"""The paper list saved beside the keyword index: used while it matches the store, ignored once it does not.

Real Chroma and the real model, on small stores built fresh by each test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import catalogue
from rag.assistant import Assistant
from rag.config import Settings
from rag.store import papers_from_chunks

OKAPI = {"title": "OkapiNet: Spotting Okapis", "abstract": "We count okapis in camera traps. OkapiNet finds 41 okapis."}
ZEBRA = {"title": "ZebraNet", "abstract": "We count zebras. ZebraNet counts stripes. It finds 12 zebras in the park."}


def write_corpus(path: Path, *papers: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in papers))
    return path


@pytest.fixture()
def two_papers(tmp_path: Path) -> Assistant:
    assistant = Assistant(Settings(home=tmp_path / "home"))
    assistant.ingest_paths([write_corpus(tmp_path / "two.jsonl", OKAPI, ZEBRA)])
    return assistant


def test_the_list_is_saved_with_the_keyword_index_and_matches_the_store(bundled_assistant: Assistant) -> None:
    store, settings = bundled_assistant.store, bundled_assistant.settings
    saved = catalogue.load(settings.catalogue_path, store.generation())
    _, docs, metas = store.all_chunks()
    assert saved is not None and len(saved) == 80
    assert saved == store.papers() == papers_from_chunks(docs, metas) == bundled_assistant.papers()


def test_a_list_from_another_generation_is_not_used(two_papers: Assistant) -> None:
    store, path = two_papers.store, two_papers.settings.catalogue_path
    assert [p.title for p in two_papers.papers()] == [OKAPI["title"], "ZebraNet"]
    okapi = next(p for p in two_papers.papers() if p.title == OKAPI["title"])
    store.bump_generation()  # the store changes without a rebuilt list (another version, a crash)
    store.collection.delete(where={"paper_id": okapi.id})
    assert catalogue.load(path, store.generation()) is None
    assert [p.title for p in two_papers.papers()] == ["ZebraNet"]  # read from the store, not the saved list


def test_another_ingest_shows_in_a_readers_list(two_papers: Assistant, tmp_path: Path) -> None:
    reader = Assistant(Settings(home=two_papers.settings.home))
    assert len(reader.papers()) == 2
    extra = {"title": "GiraffeNet", "abstract": "We measure giraffe necks. GiraffeNet finds they average 1.8 m."}
    two_papers.ingest_paths([write_corpus(tmp_path / "extra.jsonl", extra)])
    assert [p.title for p in reader.papers()] == ["GiraffeNet", OKAPI["title"], "ZebraNet"]
    saved = catalogue.load(reader.settings.catalogue_path, reader.store.generation())
    assert saved == reader.store.papers()


def test_an_unreadable_list_falls_back_to_the_store_and_is_rewritten(two_papers: Assistant, tmp_path: Path) -> None:
    path = two_papers.settings.catalogue_path
    path.write_text('{"format": 1, "generation": "x", "papers": [{"id": ')  # cut short
    assert [p.title for p in two_papers.papers()] == [OKAPI["title"], "ZebraNet"]
    two_papers.ingest_paths([write_corpus(tmp_path / "again.jsonl", ZEBRA)])  # unchanged, yet the list is rewritten
    assert catalogue.load(path, two_papers.store.generation()) == two_papers.store.papers()
