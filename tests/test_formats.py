"""Reference-manager imports (RIS, CSL-JSON, CSV/TSV) and the exports a writer pastes (Markdown, BibTeX, JSONL,
CSV): realistic files, skipped records, malformed input, and round trips through the real store."""

from __future__ import annotations

import json
from pathlib import Path

import bibtexparser
import pytest
from conftest import ROOT
from conftest import run_rag as rag

from rag.answer import Citation
from rag.corpus import CorpusError, read_corpus
from rag.export import Reference, bibtex, bibtex_key

DATA = ROOT / "tests" / "data"
GROKKING = "Grokking Beyond Algorithmic Data: Delayed Generalisation in Language Models"


def test_ris_records_keep_their_metadata_and_skip_what_has_no_abstract() -> None:
    corpus = read_corpus([DATA / "zotero.ris"])
    papers = {p.title: p for p in corpus.papers}
    assert len(papers) == 3 and [s.title for s in corpus.skipped] == ["A Survey of Retrieval Without Abstracts"]
    grok = papers[GROKKING]
    assert grok.authors == ("Müller, Jürgen", "Okafor, Chidinma") and grok.year == 2024
    assert grok.doi == "10.1234/grok.2024.001" and grok.url == "https://example.org/grokking" and grok.line == 1
    probing = papers["Counting Letters Without Tokens: A Study of Character-Level Probing"]  # T1, A1, Y1, N2
    assert probing.authors == ("Zhang, Wei",) and probing.year == 2023 and "below 40%" in probing.abstract
    assert "Café-Bench: Évaluation des modèles de langue en français" in papers  # unicode kept
    assert (
        corpus.skipped_line() == "Skipped 1 record(s) without an abstract: 'A Survey of Retrieval Without Abstracts'."
    )


def test_csl_json_and_csv_records_keep_their_metadata() -> None:
    csl = read_corpus([DATA / "zotero.json"])
    assert [p.title for p in csl.papers] == [
        "Sparse Attention Routers for Long Documents",
        "Ünïcödé Tokenizers Compared on Twelve Scripts",
    ]
    sparse, unicode = csl.papers
    assert sparse.authors == ("Ivanova, Mira", "Sato, Ken") and sparse.year == 2024
    assert sparse.doi == "10.5555/sparse.42" and sparse.url == "https://doi.org/10.5555/sparse.42"
    assert unicode.year == 2022 and unicode.authors == ("Østergaard, Søren",)
    assert [s.title for s in csl.skipped] == ["Notes on an Untitled Workshop Talk"]
    table = read_corpus([DATA / "openalex.csv"])
    chain = table.papers[0]
    assert chain.title == "Chain Rules for Prompt Sensitivity" and chain.authors == ("Rossi, Luca", "Chen, Amy")
    assert chain.year == 2023 and "Sensitivity falls by half" in chain.abstract and chain.line == 2
    assert table.papers[1].line == 5 and [s.title for s in table.skipped] == ["Untitled Poster, With a Comma"]


def test_tsv_is_read_by_its_tab_separated_header(tmp_path: Path) -> None:
    path = tmp_path / "sheet.tsv"
    path.write_text(
        "title\tabstract\tyear\n"
        "Tabbed Paper\tWe separate fields with tabs, not commas, and it works. Twice, in fact.\t2021\n"
    )
    (paper,) = read_corpus([path]).papers
    assert paper.title == "Tabbed Paper" and paper.year == 2021


@pytest.mark.parametrize(
    ("name", "text", "line", "needle"),
    [
        ("noend.ris", "TY  - JOUR\nTI  - A Title\nAB  - An abstract of enough words to count here.\n", 1, "ER  -"),
        ("stray.ris", "TY  - JOUR\nTI  - A\nER  - \nhello there\n", 4, "not an RIS line"),
        ("notitle.ris", "TY  - JOUR\nAB  - Text of an abstract that is long enough.\nER  - \n", 1, "no title"),
        ("broken.json", '[{"title": "A", "abstract": "x"},\n  {"title": ]', 2, "not valid JSON"),
        ("noabs.csv", "title,summary\nA paper,Some text here\n", 1, "no abstract column"),
        ("short.csv", "title,abstract,year\nOnly a title\n", 2, "fields but the header has"),
        ("allmissing.ris", "TY  - JOUR\nTI  - Lonely Title\nER  - \n", 1, "no abstract in any"),
    ],
)
def test_malformed_files_fail_in_one_line_naming_file_record_and_fix(
    tmp_path: Path, name: str, text: str, line: int | None, needle: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError) as caught:
        read_corpus([path])
    assert caught.value.line == line and needle in str(caught.value) and name in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bibtex_keys_are_stable_and_exports_parse() -> None:
    refs = [
        Reference("Attention Is All You Need", ["Vaswani, Ashish"], 2017, abstract="We reach 79.2% & more_x #1."),
        Reference("Attention Is Not Explanation", ["Sarthak Jain"], 2019, url="https://x.org/a", abstract="Text."),
        Reference("Attention Is All You Need Again", ["Vaswani, Ashish"], 2017, abstract="Again."),
    ]
    taken: set[str] = set()
    assert [bibtex_key(r, taken) for r in refs] == [
        "vaswani2017attention",
        "jain2019attention",
        "vaswani2017attentiona",
    ]
    library = bibtexparser.parse_string(bibtex(refs))
    assert not library.failed_blocks and len(library.entries) == 3
    assert library.entries[0]["abstract"] == "We reach 79.2\\% \\& more\\_x \\#1."


def test_references_and_cards_show_authors_and_year() -> None:
    from ui import render

    citation = Citation(1, "p", "A Paper", "Evidence.", None, 0.6, authors=["Müller, Jürgen", "Okafor, C."], year=2024)
    assert citation.byline == "Müller and Okafor, 2024"
    assert Citation(2, "q", "B", "E.", None, authors=["A B", "C D", "E F"]).byline == "B et al."
    card = render.source_card(1, citation, lambda word: False)
    assert "Müller and Okafor, 2024" in card


def test_imports_export_and_round_trip_through_the_store_unchanged(bundled_home: Path, tmp_path: Path) -> None:
    first = rag(bundled_home, "ingest", str(DATA / "zotero.ris"), str(DATA / "zotero.json"), str(DATA / "openalex.csv"))
    assert first.returncode == 0, first.stderr
    assert "7 added" in first.stdout and "Skipped 3 record(s) without an abstract" in first.stderr
    exported = {}
    for fmt, suffix in (("jsonl", "jsonl"), ("bib", "bib"), ("csv", "csv")):
        result = rag(bundled_home, "papers", "--format", fmt)
        assert result.returncode == 0, result.stderr
        exported[fmt] = result.stdout
        path = tmp_path / f"collection.{suffix}"
        path.write_text(result.stdout, encoding="utf-8")
        again = rag(bundled_home, "ingest", str(path))
        assert again.returncode == 0, again.stderr
        assert "87 papers" in again.stdout and "87 unchanged" in again.stdout, (fmt, again.stdout)
    library = bibtexparser.parse_string(exported["bib"])
    assert not library.failed_blocks and len(library.entries) == 87
    rows = [json.loads(line) for line in exported["jsonl"].splitlines()]
    grok = next(r for r in rows if r["title"] == GROKKING)
    assert grok["authors"] == ["Müller, Jürgen", "Okafor, Chidinma"] and grok["year"] == 2024
    assert grok["doi"] == "10.1234/grok.2024.001"
    assert rag(bundled_home, "papers", "--format", "jsonl").stdout == exported["jsonl"]  # nothing changed


def test_ask_writes_markdown_and_bibtex_of_the_cited_papers(bundled_home: Path, tmp_path: Path) -> None:
    assert rag(bundled_home, "ingest", str(DATA / "zotero.ris")).returncode == 0
    bib = tmp_path / "refs.bib"
    result = rag(
        bundled_home,
        "ask",
        "When does grokking arrive in small language models?",
        "--format",
        "markdown",
        "--bib",
        str(bib),
    )
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "**References**" in result.stdout
    assert f"[1] [{GROKKING}](https://example.org/grokking) — Müller and Okafor, 2024." in result.stdout
    entries = bibtexparser.parse_string(bib.read_text()).entries
    assert entries[0].key == "muller2024grokking" and entries[0]["doi"] == "10.1234/grok.2024.001"


def test_the_ui_offers_the_answer_and_its_references_as_files() -> None:
    from rag.answer import Answer
    from ui import render
    from ui.handlers import export_files

    citation = Citation(1, "p", GROKKING, "Generalisation arrives late.", "https://example.org/g", 0.7, year=2024)
    answer = Answer("When?", "Late [1].", [citation], [GROKKING], False, "extractive", 1.0, body="Late [1].")
    markdown, references = export_files([render.Turn(1, "When?", answer)])
    assert markdown["interactive"] and references["interactive"]
    assert "[1] [Grokking Beyond" in Path(markdown["value"]).read_text()
    (entry,) = bibtexparser.parse_string(Path(references["value"]).read_text()).entries
    assert entry["title"] == GROKKING and entry["year"] == "2024"
    nothing = export_files([])
    assert nothing[0]["value"] is None and not nothing[1]["interactive"]


def test_the_ui_keeps_only_the_newest_export_folders() -> None:
    from rag.answer import Answer
    from ui import render
    from ui.handlers import KEPT_EXPORTS, export_files

    answer = Answer("When?", "Late.", [], [], False, "extractive", 1.0, body="Late.")
    exports = [export_files([render.Turn(n, "When?", answer)]) for n in range(KEPT_EXPORTS + 3)]
    folders = [Path(markdown["value"]).parent for markdown, _ in exports]
    assert all(f.exists() for f in folders[-KEPT_EXPORTS:])
    assert not any(f.exists() for f in folders[:3])
