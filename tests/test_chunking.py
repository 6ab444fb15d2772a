"""Abstracts are chunked at the sentences evidence is quoted by, without importing NLTK."""

from __future__ import annotations

import subprocess
import sys

from rag.config import BUNDLED_CORPUS, Settings
from rag.corpus import load_file
from rag.ingest import chunk_paper
from rag.text import sentence_pieces, split_sentences


def test_sentence_pieces_give_the_text_back_and_the_quoted_sentences() -> None:
    for paper in load_file(BUNDLED_CORPUS):
        pieces = sentence_pieces(paper.abstract)
        assert "".join(pieces) == paper.abstract
        assert [p.strip() for p in pieces] == split_sentences(paper.abstract)


def test_a_chunk_never_ends_inside_a_sentence_that_fits_a_chunk() -> None:
    settings = Settings()
    for paper in load_file(BUNDLED_CORPUS)[:20]:
        sentences = split_sentences(paper.abstract)
        short = [s for s in sentences if len(s.split()) < 30]  # whole sentences well under the chunk size
        chunks = [c.text for c in chunk_paper(paper, settings.chunk_size, 0, paper_vector=False)]
        for sentence in short:
            assert any(sentence in chunk for chunk in chunks), sentence


def test_chunking_does_not_import_nltk() -> None:
    probe = (
        "import sys; from rag.config import BUNDLED_CORPUS; from rag.corpus import load_file; "
        "from rag.ingest import chunk_paper; paper = load_file(BUNDLED_CORPUS)[0]; chunk_paper(paper, 64, 0); "
        "print('nltk' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "False"
