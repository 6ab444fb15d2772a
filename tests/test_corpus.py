"""Parsing the three corpus formats, and the clear errors for malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.config import BUNDLED_CORPUS
from rag.corpus import CorpusError, load_corpus, load_file, paper_id

ABSTRACT = (
    "We study how small language models learn arithmetic from scratch. Our experiments show that "
    "curriculum ordering improves accuracy by 12% on held-out problems. Code is at https://example.org/arith."
)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_bundled_corpus_has_80_distinct_papers() -> None:
    papers = load_file(BUNDLED_CORPUS)
    assert len(papers) == 80
    assert len({p.id for p in papers}) == 80
    titles = [p.title for p in papers]
    assert titles[0].startswith("AsyncFlow")
    assert "Daily Papers" not in titles and "Subscribe" not in titles
    skippipe = next(p for p in papers if p.title.startswith("SkipPipe"))
    assert skippipe.url == "https://github.com/gensyn-ai/skippipe"
    assert skippipe.abstract.startswith("Data and pipeline parallelism")


def test_id_is_stable_under_case_and_punctuation() -> None:
    assert paper_id("Re-Reading Improves Reasoning") == paper_id("  re reading improves REASONING ")
    assert paper_id("Re-Reading Improves Reasoning") != paper_id("Re-Reading Improves Planning")


def test_daily_papers_dump(tmp_path: Path) -> None:
    text = f"Daily Papers\n\nAug 5\n\nArithmetic From Scratch\n\n{ABSTRACT}\n\nSecond Paper Title\n\n{ABSTRACT} More.\n"
    papers = load_file(write(tmp_path, "dump.txt", text))
    assert [p.title for p in papers] == ["Arithmetic From Scratch", "Second Paper Title"]
    assert papers[0].url == "https://example.org/arith"


def test_jsonl(tmp_path: Path) -> None:
    rows = [
        {"title": "Arithmetic From Scratch", "abstract": ABSTRACT, "authors": ["A. One", "B. Two"], "year": 2024},
        {"title": "With Url", "abstract": ABSTRACT, "url": "https://papers.example/1"},
    ]
    papers = load_file(write(tmp_path, "p.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n"))
    assert papers[0].authors == ("A. One", "B. Two") and papers[0].year == 2024
    assert papers[0].url == "https://example.org/arith"  # taken from the abstract
    assert papers[1].url == "https://papers.example/1"  # given url wins


def test_bibtex(tmp_path: Path) -> None:
    bib = (
        "@article{arith24,\n  title = {Arithmetic From {S}cratch},\n  author = {One, A. and Two, B.},\n"
        f"  year = {{2024}},\n  abstract = {{{ABSTRACT}}},\n  doi = {{10.1000/xyz}}\n}}\n"
    )
    (paper,) = load_file(write(tmp_path, "refs.bib", bib))
    assert paper.title == "Arithmetic From Scratch"
    assert paper.year == 2024
    assert paper.url == "https://doi.org/10.1000/xyz"


@pytest.mark.parametrize(
    ("name", "content", "line", "needle"),
    [
        ("empty.txt", "", None, "empty"),
        ("blank.jsonl", "   \n\n", None, "whitespace"),
        ("binary.txt", b"\x89PNG\x00\x00\x01binary", None, "binary"),
        ("latin1.txt", "Title\n\nAbstract caf\xe9 text.\n".encode("latin-1"), 3, "UTF-8"),
        ("broken.jsonl", '{"title": "A", "abstract": "' + ABSTRACT + '"}\n{"title": "B", "abs\n', 2, "JSON"),
        ("nofield.jsonl", '{"title": "Only a title"}\n', 1, "abstract"),
        ("unclosed.bib", "@article{x,\n title = {Open brace,\n abstract = {text}\n", None, "BibTeX"),
        ("noabs.bib", "@article{x,\n title = {A Title}\n}\n", 1, "no abstract"),
        ("orphan.txt", f"First Title\n\n{ABSTRACT}\n\nA Title With No Abstract\n", 5, "not followed by an abstract"),
        ("huge.jsonl", json.dumps({"title": "Huge", "abstract": "word. " * 200_000}) + "\n", 1, "characters"),
        ("longtitle.jsonl", json.dumps({"title": "T" * 10_000, "abstract": ABSTRACT}) + "\n", 1, "title is"),
    ],
)
def test_malformed_input_names_file_line_and_fix(
    tmp_path: Path, name: str, content: str | bytes, line: int | None, needle: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(CorpusError) as caught:
        load_file(path)
    error = caught.value
    assert error.file == str(path)
    if line is not None:
        assert error.line == line
    assert needle.lower() in str(error).lower()
    assert str(path) in str(error)


def test_missing_path_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no such file"):
        load_file(tmp_path / "nope.jsonl")
    with pytest.raises(CorpusError, match="directory"):
        load_file(tmp_path)


def test_duplicates_collapse_but_conflicts_are_errors(tmp_path: Path) -> None:
    row = {"title": "Arithmetic From Scratch", "abstract": ABSTRACT}
    a = write(tmp_path, "a.jsonl", json.dumps(row) + "\n")
    b = write(tmp_path, "b.jsonl", json.dumps(row) + "\n")
    assert len(load_corpus([a, b])) == 1
    c = write(tmp_path, "c.jsonl", json.dumps({**row, "abstract": ABSTRACT + " Changed."}) + "\n")
    with pytest.raises(CorpusError, match="different abstracts"):
        load_corpus([a, c])
