"""The embedding model on ONNX Runtime: the same vectors as sentence-transformers on PyTorch, and a question
path that never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_env

from rag import word_meaning
from rag.config import BUNDLED_CORPUS
from rag.corpus import load_file
from rag.embeddings import MAX_TOKENS, Embedder, OnnxEncoder, export_onnx, shared_embedder
from rag.ingest import chunk_paper
from rag.keyword import keyword_text
from rag.neighbours import (
    _load_near_words,
    _load_word_vectors,
    build_near_words,
    near_lists,
    near_words,
    near_words_file,
    word_vectors,
    word_vectors_file,
)


def bundled_texts() -> list[str]:
    papers = load_file(BUNDLED_CORPUS)
    chunks = [keyword_text(c.metadata, c.text) for p in papers[:12] for c in chunk_paper(p, 64, 0)]
    return chunks + [f"{p.title}\n{p.abstract}" for p in papers[:12]]  # whole abstracts: past 128 tokens


def test_onnx_vectors_are_the_sentence_transformers_vectors() -> None:
    texts = bundled_texts()
    onnx = Embedder(16, "onnx").embed_texts(texts)
    torch = Embedder(16, "torch").embed_texts(texts)
    assert onnx.shape == torch.shape == (len(texts), 384) and onnx.dtype == np.float32
    cosine = (onnx * torch).sum(axis=1)
    assert cosine.min() > 0.99999, cosine.min()
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    # Many texts run on the single-threaded copy, one batch per core; a question runs on the shared model.
    embedder = Embedder(16, "onnx")
    one_at_a_time = np.stack([embedder.embed_query(t) for t in texts[::5]])
    assert (one_at_a_time * onnx[::5]).sum(axis=1).min() > 0.99999
    # One paper's few entries run on the shared model: loading the bulk copy would cost more than it saves.
    few = Embedder(4, "onnx")
    assert (few.embed_texts(texts[:6]) * onnx[:6]).sum(axis=1).min() > 0.99999
    assert few._bulk is None
    encoder = embedder.encoder
    assert isinstance(encoder, OnnxEncoder)
    longest = max(len(encoder.tokenizer.encode(t).ids) for t in texts)
    assert longest == MAX_TOKENS  # whole abstracts are cut at 256 tokens, as sentence-transformers cuts them


def test_the_question_path_never_imports_torch(bundled_home: Path) -> None:
    code = (
        "import sys\n"
        "from rag.cli import main\n"
        "sys.argv = ['rag', 'ask', 'What throughput improvement does AsyncFlow report?']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=run_env(bundled_home), capture_output=True, text=True, timeout=300
    )
    assert "1.59" in result.stdout, result.stderr
    assert "HEAVY []" in result.stdout


def test_the_export_is_written_whole_where_it_is_asked(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "minilm.onnx"
    assert export_onnx(target) == target and target.stat().st_size > 80_000_000
    assert [p.name for p in target.parent.iterdir()] == ["minilm.onnx"]  # no staging file left behind
    vector = OnnxEncoder(target).encode(["grokking in pretraining"])
    assert vector.shape == (1, 384)


def test_near_words_are_listed_nearest_first_and_written_readable(tmp_path: Path) -> None:
    words = ["city", "town", "towns", "protein"]
    vectors = Embedder().embed_words(words)
    lists = near_lists(vectors, words)
    assert lists["town"][0] == "towns" and "city" in lists["town"] and "protein" not in lists  # nothing near
    assert "town" not in lists["town"]  # a word is not its own neighbour
    target = build_near_words(tmp_path / "near.json")
    vectors_file = word_vectors_file(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["near.json", vectors_file.name]  # no staging file left
    for written in (target, vectors_file):
        assert written.stat().st_mode & 0o777 == 0o644  # readable by the account that serves questions, too
    built = json.loads(target.read_text())
    assert "city" in built["near"]["town"] and built["vocabulary"] > 20_000
    assert np.load(vectors_file).shape == (built["vocabulary"], 384)  # one row per word, in sorted order


@pytest.mark.parametrize("content", [b"\x93NUMPY cut short", b""])
def test_damaged_word_vectors_are_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes) -> None:
    shared_embedder().embed_words(["warm"])  # the model from the usual cache: only the vectors are looked for here
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path))
    damaged = word_vectors_file(near_words_file(tmp_path))
    damaged.write_bytes(content)
    _load_word_vectors.cache_clear()
    try:
        vectors = word_meaning.vocabulary_vectors(["city", "town"])
        rows, _ = word_vectors() or ({}, None)
    finally:
        _load_word_vectors.cache_clear()
    assert "town" in rows and np.load(damaged).shape[0] == len(rows)  # rebuilt, and read from the file
    assert float(vectors["city"] @ vectors["town"]) > 0.75  # near words, as the lists say


def test_damaged_near_word_lists_are_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared_embedder().embed_words(["warm"])  # the model from the usual cache: only the lists are looked for here
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path))
    damaged = near_words_file(tmp_path)
    damaged.write_text('{"near_from": 0.75, "vocabulary": 3, "ne')
    _load_near_words.cache_clear()
    try:
        lists = near_words()
    finally:
        _load_near_words.cache_clear()
    assert "city" in lists["town"]
    assert json.loads(damaged.read_text())["near"]["town"] == list(lists["town"])
