"""What the benchmarks run on: seeded synthetic abstracts, seeded vectors, the question set, percentiles."""

from __future__ import annotations

import os
import platform
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.embeddings import DIMENSION, Embedder

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def synthetic_papers(count: int, seed: int = 7) -> list[Any]:
    """Abstracts assembled from the bundled corpus's sentences (seeded, so every run sees the same text)."""
    from rag.config import BUNDLED_CORPUS
    from rag.corpus import load_file, make_paper
    from rag.text import split_sentences

    rng = random.Random(seed)
    sentences = [s for p in load_file(BUNDLED_CORPUS) for s in split_sentences(p.abstract)]
    papers = []
    for index in range(count):
        abstract = " ".join(rng.sample(sentences, 8))
        papers.append(
            make_paper(
                f"Synthetic paper {index}: {rng.choice(sentences)[:60]}",
                abstract,
                file=Path("synthetic"),
                line=index + 1,
            )
        )
    return papers


def questions(count: int) -> list[str]:
    """The gold questions, then variations of them, up to ``count``."""
    from rag.evaluate import load_gold

    golds = [g.question for g in load_gold(ROOT / "eval" / "gold.jsonl")]
    rng = random.Random(3)
    return [golds[i] if i < len(golds) else f"What does {rng.choice(golds)[:-1].lower()} say?" for i in range(count)]


class SeededEmbedder(Embedder):
    """Random unit vectors from a fixed seed: a scale run measures the store, not the model."""

    def __init__(self, seed: int = 11) -> None:
        super().__init__()
        self._rng = np.random.default_rng(seed)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        vectors = self._rng.standard_normal((len(texts), DIMENSION)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def query_latencies(assistant: Any, questions: list[str], candidates: int = 60) -> dict[str, Any]:
    """Warm p50/p95 of retrieval and of the full extractive ``ask``, next to a raw Chroma query plus a raw BM25
    query on the same store (plus embedding the question, which retrieval includes), over ``questions``."""
    from rag.assistant import AskOptions

    assistant.ask(questions[0], AskOptions(answerer="extractive"))  # warm: model, keyword index, Chroma
    keyword = assistant.retriever.keyword_index()
    collection = assistant.store.collection
    raw, retrieval, ask, embed = [], [], [], []
    for question in questions:
        started = time.perf_counter()
        vector = assistant.embedder.embed_query(question)
        embed.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        collection.query(
            query_embeddings=[vector], n_results=candidates, include=["documents", "metadatas", "distances"]
        )
        keyword.search(question, candidates)
        raw.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        assistant.retriever.retrieve(question)
        retrieval.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        assistant.ask(question, AskOptions(answerer="extractive"))
        ask.append((time.perf_counter() - started) * 1000)
    raw_with_embed = [r + e for r, e in zip(raw, embed, strict=True)]
    return {
        "questions": len(questions),
        "embed_question_p50_ms": round(percentile(embed, 0.5), 2),
        "raw_chroma_plus_bm25_p50_ms": round(percentile(raw, 0.5), 2),
        "raw_chroma_plus_bm25_p95_ms": round(percentile(raw, 0.95), 2),
        "retrieval_p50_ms": round(percentile(retrieval, 0.5), 2),
        "retrieval_p95_ms": round(percentile(retrieval, 0.95), 2),
        "ask_p50_ms": round(percentile(ask, 0.5), 2),
        "ask_p95_ms": round(percentile(ask, 0.95), 2),
        "retrieval_overhead_ratio_p50": round(percentile(retrieval, 0.5) / percentile(raw_with_embed, 0.5), 3),
    }
