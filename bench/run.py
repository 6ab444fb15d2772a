"""Benchmarks, each reported as a ratio against a baseline measured in the same run.

    python -m bench.run [--size tiny|full] [--out bench/results]

- ingest: our ingest (chunk, embed, upsert, keyword index) vs raw sentence-transformers encoding of the
  same texts;
- query: warm retrieval and full extractive ``ask`` vs a raw Chroma query + raw BM25 query on the same store;
- cold start: ``rag ask`` in a fresh process vs ``python -c "import sentence_transformers"``;
- scale: upsert throughput, query latency, memory and disk at growing chunk counts with seeded vectors;
- concurrency: queries/s with 1, 4 and 16 threads against one ``Assistant``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = {
    "tiny": {"synthetic_papers": 40, "questions": 20, "scale": [2_000], "clients": [1, 4]},
    "full": {"synthetic_papers": 2_000, "questions": 200, "scale": [10_000, 100_000], "clients": [1, 4, 16]},
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def synthetic_papers(count: int, seed: int = 7) -> list[Any]:
    """Abstracts assembled from the bundled corpus's sentences (seeded, so every run sees the same text)."""
    from rag.config import BUNDLED_CORPUS
    from rag.corpus import load_file, make_paper
    from rag.extractive import split_sentences

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


def bench_ingest(papers: list[Any], home: Path) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.embeddings import model_path
    from rag.ingest import chunk_paper
    from rag.keyword import keyword_text

    settings = Settings(home=home)
    assistant = Assistant(settings)
    _ = assistant.embedder.model  # load outside the timing
    started = time.perf_counter()
    report = assistant.ingest_papers(papers)
    ours = time.perf_counter() - started

    texts = [keyword_text(c.metadata, c.text) for p in papers for c in chunk_paper(p, settings.chunk_size, 0)]
    raw_model = SentenceTransformer(model_path(), device="cpu")
    started = time.perf_counter()
    raw_model.encode(texts, batch_size=settings.embed_batch_size, normalize_embeddings=True)
    raw = time.perf_counter() - started
    return {
        "papers": len(papers),
        "chunks": report.chunks_total,
        "ours_chunks_per_s": round(report.chunks_total / ours, 1),
        "ours_papers_per_s": round(len(papers) / ours, 1),
        "raw_encode_chunks_per_s": round(len(texts) / raw, 1),
        "ratio_ours_over_raw": round((report.chunks_total / ours) / (len(texts) / raw), 3),
    }


def bench_query(home: Path, questions: list[str]) -> dict[str, Any]:
    from rag.assistant import Assistant
    from rag.config import Settings

    assistant = Assistant(Settings(home=home))
    assistant.ask(questions[0])  # warm: model, keyword index, Chroma
    keyword = assistant.retriever.keyword_index()
    collection = assistant.store.collection
    raw, retrieval, ask = [], [], []
    for question in questions:
        vector = assistant.embedder.embed_query(question)
        started = time.perf_counter()
        collection.query(query_embeddings=[vector], n_results=60, include=["documents", "metadatas", "distances"])
        keyword.search(question, 60)
        raw.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        assistant.retriever.retrieve(question)
        retrieval.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        assistant.ask(question, answerer="extractive")
        ask.append((time.perf_counter() - started) * 1000)
    # Retrieval includes embedding the question; compare like with like by adding the embed time to raw.
    embed = []
    for question in questions[:50]:
        started = time.perf_counter()
        assistant.embedder.embed_query(question)
        embed.append((time.perf_counter() - started) * 1000)
    embed_ms = statistics.median(embed)
    raw_with_embed = [r + embed_ms for r in raw]
    return {
        "questions": len(questions),
        "raw_chroma_plus_bm25_p50_ms": round(percentile(raw, 0.5), 2),
        "embed_question_p50_ms": round(embed_ms, 2),
        "retrieval_p50_ms": round(percentile(retrieval, 0.5), 2),
        "retrieval_p95_ms": round(percentile(retrieval, 0.95), 2),
        "ask_p50_ms": round(percentile(ask, 0.5), 2),
        "ask_p95_ms": round(percentile(ask, 0.95), 2),
        "retrieval_overhead_ratio_p50": round(percentile(retrieval, 0.5) / percentile(raw_with_embed, 0.5), 3),
    }


def bench_cold_start(home: Path) -> dict[str, Any]:
    env = {**os.environ, "RAG_HOME": str(home)}
    rag = [sys.executable, "-m", "rag.cli", "ask", "What throughput improvement does AsyncFlow report?"]
    base = [sys.executable, "-c", "import sentence_transformers"]

    def wall(command: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True, cwd=ROOT)
        return time.perf_counter() - started

    ours = statistics.median(wall(rag) for _ in range(3))
    bare = statistics.median(wall(base) for _ in range(3))
    return {
        "rag_ask_s": round(ours, 2),
        "import_sentence_transformers_s": round(bare, 2),
        "ratio": round(ours / bare, 3),
    }


def bench_concurrency(home: Path, questions: list[str], clients: list[int]) -> dict[str, Any]:
    from rag.assistant import Assistant
    from rag.config import Settings

    assistant = Assistant(Settings(home=home))
    assistant.ask(questions[0])
    results = {}
    for count in clients:
        errors = 0
        started = time.perf_counter()
        with ThreadPoolExecutor(count) as pool:
            for future in [pool.submit(assistant.ask, q, None, None, "extractive") for q in questions]:
                try:
                    future.result()
                except Exception:
                    errors += 1
        elapsed = time.perf_counter() - started
        results[f"{count}_clients"] = {"qps": round(len(questions) / elapsed, 2), "errors": errors}
    return results


def bench_scale(sizes: list[int], workdir: Path) -> list[dict[str, Any]]:
    """Seeded random vectors (no embedding cost) and corpus-sentence text, straight into Chroma + BM25."""
    import chromadb
    import numpy as np
    import psutil

    from rag.keyword import KeywordIndex

    rng = np.random.default_rng(11)
    sentences = [p.abstract for p in synthetic_papers(200)]
    rows = []
    for size in sizes:
        path = workdir / f"scale-{size}"
        client = chromadb.PersistentClient(path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))
        collection = client.get_or_create_collection(
            "scale", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        rss_before = psutil.Process().memory_info().rss
        started = time.perf_counter()
        ids, texts, metas = [], [], []
        for start in range(0, size, 5_000):
            count = min(5_000, size - start)
            vectors = rng.standard_normal((count, 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            batch_ids = [f"c{start + i}" for i in range(count)]
            batch_texts = [sentences[(start + i) % len(sentences)][:300] for i in range(count)]
            batch_metas = [
                {"paper_id": f"p{(start + i) // 6}", "title": f"paper {(start + i) // 6}"} for i in range(count)
            ]
            collection.upsert(ids=batch_ids, embeddings=vectors, documents=batch_texts, metadatas=batch_metas)
            ids += batch_ids
            texts += batch_texts
            metas += batch_metas
        upsert_s = time.perf_counter() - started
        keyword = KeywordIndex.build(ids, texts, metas)
        latencies = []
        for _ in range(50):
            query = rng.standard_normal(384).astype(np.float32)
            started = time.perf_counter()
            collection.query(query_embeddings=[query / np.linalg.norm(query)], n_results=60)
            keyword.search("chain of thought reasoning performance", 60)
            latencies.append((time.perf_counter() - started) * 1000)
        rss = psutil.Process().memory_info().rss - rss_before
        disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        rows.append(
            {
                "chunks": size,
                "upsert_chunks_per_s": round(size / upsert_s, 1),
                "query_p50_ms": round(percentile(latencies, 0.5), 2),
                "query_p95_ms": round(percentile(latencies, 0.95), 2),
                "rss_growth_mb": round(rss / 1e6, 1),
                "disk_mb": round(disk / 1e6, 1),
                "raw_vector_mb": round(size * 384 * 4 / 1e6, 1),
            }
        )
        del collection, client, keyword
        shutil.rmtree(path, ignore_errors=True)
    return rows


def plot_scale(rows: list[dict[str, Any]], out: Path) -> None:
    """Query latency (left) and memory/disk (right) against the number of chunks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["chunks"] for r in rows]
    fig, (latency, memory) = plt.subplots(1, 2, figsize=(9, 3.5))
    latency.plot(sizes, [r["query_p50_ms"] for r in rows], "o-", label="p50")
    latency.plot(sizes, [r["query_p95_ms"] for r in rows], "s--", label="p95")
    latency.set(xscale="log", xlabel="chunks", ylabel="ms", title="Chroma + BM25 query latency")
    latency.set_ylim(bottom=0)
    latency.legend()
    memory.plot(sizes, [max(0.0, r["rss_growth_mb"]) for r in rows], "o-", label="resident memory growth")
    memory.plot(sizes, [r["disk_mb"] for r in rows], "s--", label="store on disk")
    memory.plot(sizes, [r["raw_vector_mb"] for r in rows], "^:", label="raw vectors")
    memory.set(xscale="log", xlabel="chunks", ylabel="MB", title="Memory and disk")
    memory.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--skip", nargs="*", default=[], help="ingest query cold concurrency scale")
    args = parser.parse_args()
    size = SIZES[args.size]
    args.out.mkdir(parents=True, exist_ok=True)
    import rag  # noqa: F401 - offline environment defaults
    from rag.config import BUNDLED_CORPUS
    from rag.corpus import load_file
    from rag.evaluate import load_gold

    results: dict[str, Any] = {"machine": machine(), "size": args.size}
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        bundled_home = work / "bundled"
        if "ingest" not in args.skip:
            results["ingest_bundled"] = bench_ingest(load_file(BUNDLED_CORPUS), bundled_home)
            results["ingest_synthetic"] = bench_ingest(synthetic_papers(size["synthetic_papers"]), work / "synthetic")
        else:
            from rag.assistant import Assistant
            from rag.config import Settings

            Assistant(Settings(home=bundled_home)).ingest_paths([BUNDLED_CORPUS])
        golds = [g.question for g in load_gold(ROOT / "eval" / "gold.jsonl")]
        rng = random.Random(3)
        questions = [
            golds[i % len(golds)] if i < len(golds) else f"What does {rng.choice(golds)[:-1].lower()} say?"
            for i in range(size["questions"])
        ]
        if "query" not in args.skip:
            results["query"] = bench_query(bundled_home, questions)
        if "cold" not in args.skip:
            results["cold_start"] = bench_cold_start(bundled_home)
        if "concurrency" not in args.skip:
            results["concurrency"] = bench_concurrency(
                bundled_home, questions[: max(20, len(questions) // 4)], size["clients"]
            )
        if "scale" not in args.skip:
            results["scale"] = bench_scale(size["scale"], work)
            plot_scale(results["scale"], args.out / f"scale-{args.size}.png")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (args.out / f"results-{args.size}.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
