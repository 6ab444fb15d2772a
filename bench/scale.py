"""Scale: our own ingest and query path at growing store sizes, next to Chroma on its own.

Each store holds the bundled corpus (real vectors, so the gold questions still find their papers) plus
seeded synthetic abstracts made of the corpus's sentences, up to the target number of chunks. The
synthetic abstracts get random unit vectors from a fixed seed, so the model's cost is excluded and what
is measured is chunking, Chroma and the keyword index. Memory and latency are then measured in fresh
processes (``python -m bench.scale probe ours|chroma HOME VECTORS QUESTIONS``), each against its own
baseline in the same run:

- ingest: our ingest without the model (chunk, upsert, keyword index) vs a raw Chroma upsert of the same
  chunks and vectors (sizes up to ``raw_upsert_max``: the raw upsert of 1M chunks would add most of an hour);
- query: retrieval and extractive ``ask`` vs a raw Chroma query + raw BM25 query (``workload.query_latencies``);
- memory: the resident-set growth of a process answering questions vs that of a process that only opens the
  collection and queries it, and vs the size of Chroma's HNSW index files for those vectors;
- growth: adding ten papers (real embeddings) to the full store, end to end, and the catch-up of a second
  process that had the store open: its first question after the addition, which must cite a new paper
  (``python -m bench.scale reader HOME``, driven over stdin).
"""

from __future__ import annotations

import gc
import json
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.workload import ROOT, SeededEmbedder, percentile, query_latencies, synthetic_papers


def _log(message: str) -> None:
    print(f"[scale] {message}", file=sys.stderr, flush=True)


def _size_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)


def hnsw_index_mb(chroma_path: Path) -> float:
    """Chroma's own vector index: the HNSW segment files (vectors, graph links, id mapping)."""
    return round(sum(_size_mb(d) for d in chroma_path.iterdir() if (d / "data_level0.bin").exists()), 1)


def build(home: Path, target_chunks: int) -> tuple[dict[str, Any], list[Any]]:
    """The bundled corpus, then synthetic abstracts up to about ``target_chunks``; returns figures and papers."""
    from rag.assistant import Assistant
    from rag.config import BUNDLED_CORPUS, Settings
    from rag.ingest import chunk_paper, ingest
    from rag.store import ChunkStore

    settings = Settings(home=home)
    bundled = Assistant(settings).ingest_paths([BUNDLED_CORPUS]).chunks_total
    sample = synthetic_papers(1000, seed=target_chunks)
    per_paper = sum(len(chunk_paper(p, settings.chunk_size, settings.chunk_overlap)) for p in sample) / len(sample)
    papers = synthetic_papers(max(1, math.ceil((target_chunks - bundled) / per_paper)), seed=target_chunks)
    marks: list[float] = []
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        marks.append(time.perf_counter())
        if total and (done == total or len(marks) % 100 == 0):
            _log(f"{target_chunks:,}: {done:,}/{total:,} chunks written, {marks[-1] - started:.0f} s")

    report = ingest(papers, ChunkStore(settings), SeededEmbedder(seed=target_chunks), settings, progress=progress)
    seconds = time.perf_counter() - started
    keyword_s = time.perf_counter() - marks[-1] if marks else 0.0
    return (
        {
            "chunks": report.chunks_total,
            "papers": report.papers_total,
            "ingest_s": round(seconds, 1),
            "ingest_chunks_per_s": round(report.chunks_written / seconds, 1),
            "keyword_index_build_s": round(keyword_s, 1),
        },
        papers,
    )


def raw_upsert(papers: list[Any], target_chunks: int, path: Path, batch: int) -> float:
    """Chunks per second of a plain Chroma upsert of the same chunks and vectors (chunked outside the timing)."""
    import chromadb

    from rag.config import Settings
    from rag.ingest import chunk_paper

    settings = Settings()
    chunks = [c for p in papers for c in chunk_paper(p, settings.chunk_size, settings.chunk_overlap)]
    vectors = SeededEmbedder(seed=target_chunks).embed_texts([c.text for c in chunks])
    client = chromadb.PersistentClient(path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))
    collection = client.get_or_create_collection(
        "raw", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    started = time.perf_counter()
    for start in range(0, len(chunks), batch):
        part = chunks[start : start + batch]
        collection.upsert(
            ids=[c.id for c in part],
            embeddings=vectors[start : start + batch],
            documents=[c.text for c in part],
            metadatas=[c.metadata for c in part],
        )
    rate = len(chunks) / (time.perf_counter() - started)
    del collection, client
    shutil.rmtree(path, ignore_errors=True)
    return round(rate, 1)


def probe(kind: str, home: Path, vectors_file: Path, questions_file: Path) -> dict[str, Any]:
    """Run in a fresh process: resident-set growth (and, for ``ours``, latencies) over ``home``'s store."""
    import psutil

    def rss_mb() -> float:
        gc.collect()
        return psutil.Process().memory_info().rss / 1e6

    import chromadb  # imported before the baseline reading, in both kinds

    from rag.config import Settings

    settings = Settings(home=home)
    vectors = np.load(vectors_file)
    if kind == "chroma":
        before = rss_mb()
        client = chromadb.PersistentClient(
            path=str(settings.chroma_path), settings=chromadb.Settings(anonymized_telemetry=False)
        )
        collection = client.get_collection(settings.collection)
        latencies = []
        for vector in vectors:
            started = time.perf_counter()
            collection.query(query_embeddings=[vector], n_results=60, include=["documents", "metadatas", "distances"])
            latencies.append((time.perf_counter() - started) * 1000)
        return {
            "rss_growth_mb": round(rss_mb() - before, 1),
            "query_p50_ms": round(percentile(latencies, 0.5), 2),
            "query_p95_ms": round(percentile(latencies, 0.95), 2),
        }
    import bm25s  # noqa: F401 - imported before the baseline reading

    from rag.assistant import AskOptions, Assistant
    from rag.embeddings import shared_embedder

    asked = json.loads(questions_file.read_text())
    embedder = shared_embedder(settings.embed_batch_size, settings.embed_backend)
    for question in asked:  # the model's own memory, at its steady state, is not the store's
        embedder.embed_query(question)
    before = rss_mb()
    assistant = Assistant(settings)
    started = time.perf_counter()
    assistant.ask("What is grokking?", AskOptions(answerer="extractive"))
    first_ask_s = time.perf_counter() - started
    figures = query_latencies(assistant, asked)
    return {"rss_growth_mb": round(rss_mb() - before, 1), "first_ask_s": round(first_ask_s, 2), **figures}


NEW_PAPERS = 10


def new_papers() -> list[Any]:
    """Ten papers on a topic nothing else in the store mentions."""
    from rag.corpus import make_paper

    return [
        make_paper(
            f"OkapiCount-{n}: Counting Okapis in Camera-Trap Survey {n}",
            f"We present OkapiCount-{n}, a detector for okapis in camera-trap images from survey site {n}. "
            f"OkapiCount-{n} found {40 + n} okapis across {1000 * n} images. "
            "The detector runs on one laptop and needs no labelled data from the survey site.",
            file=Path("growth"),
            line=n,
        )
        for n in range(1, NEW_PAPERS + 1)
    ]


def reader(home: Path) -> None:
    """A second process over the same store: answers ``ask QUESTION`` lines on stdin with a JSON line."""
    from rag.assistant import AskOptions, Assistant
    from rag.config import Settings

    assistant = Assistant(Settings(home=home))
    for line in sys.stdin:
        question = line.strip().removeprefix("ask ").strip()
        started = time.perf_counter()
        answer = assistant.ask(question, AskOptions(answerer="extractive"))
        seconds = time.perf_counter() - started
        cited = [c.title for c in answer.citations]
        print(json.dumps({"s": round(seconds, 3), "cited": cited, "reopens": assistant.store.reopens}), flush=True)


def bench_growth(home: Path) -> dict[str, Any]:
    """Adding ten papers to the built store, end to end; and a second process's catch-up."""
    from rag.assistant import Assistant
    from rag.config import Settings

    process = subprocess.Popen(
        [sys.executable, "-m", "bench.scale", "reader", str(home)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None

    def ask(question: str) -> dict[str, Any]:
        process.stdin.write(f"ask {question}\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    try:
        question = f"How many okapis did OkapiCount-{NEW_PAPERS} find?"
        ask("What is grokking?")  # the reader is warm and holds the store open
        warm = ask("What throughput improvement does AsyncFlow report?")
        assistant = Assistant(Settings(home=home))
        assistant.embedder.embed_query("warm")  # the model loaded, as in a running UI
        started = time.perf_counter()
        report = assistant.ingest_papers(new_papers())
        added = time.perf_counter() - started
        first = ask(question)
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    return {
        "add_ten_papers_s": round(added, 2),
        "papers_added": report.papers_added,
        "reader_warm_ask_s": warm["s"],
        "reader_first_ask_after_s": first["s"],
        "reader_catch_up_s": round(max(0.0, first["s"] - warm["s"]), 2),
        "reader_cites_new_paper": any("OkapiCount" in title for title in first["cited"]),
        "reader_reopened_store": first["reopens"] > warm["reopens"],
    }


def _run_probe(kind: str, home: Path, vectors_file: Path, questions_file: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.scale", "probe", kind, str(home), str(vectors_file), str(questions_file)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} probe failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_store(home: Path, vectors_file: Path, questions_file: Path) -> dict[str, Any]:
    """Disk, memory and latency of a built store, each probe in a fresh process."""
    from rag.config import Settings

    settings = Settings(home=home)
    row: dict[str, Any] = {
        "chroma_disk_mb": _size_mb(settings.chroma_path),
        "keyword_index_disk_mb": _size_mb(settings.bm25_path),
        "hnsw_index_mb": hnsw_index_mb(settings.chroma_path),
    }
    _log(f"{home.name}: measuring memory and latency in fresh processes")
    chroma = _run_probe("chroma", home, vectors_file, questions_file)
    ours = _run_probe("ours", home, vectors_file, questions_file)
    row.update(
        {
            "chroma_alone_rss_growth_mb": chroma["rss_growth_mb"],
            "chroma_alone_query_p50_ms": chroma["query_p50_ms"],
            "rss_growth_mb": ours.pop("rss_growth_mb"),
            **ours,
        }
    )
    row["memory_over_hnsw_index"] = round(row["rss_growth_mb"] / row["hnsw_index_mb"], 3)
    row["memory_over_chroma_alone"] = round(row["rss_growth_mb"] / row["chroma_alone_rss_growth_mb"], 3)
    return row


def bench_scale(
    sizes: list[int],
    workdir: Path,
    questions: list[str],
    raw_upsert_max: int = 100_000,
    on_row: Callable[[list[dict[str, Any]]], None] = lambda rows: None,
    growth_only: bool = False,
) -> list[dict[str, Any]]:
    """One row per size; ``on_row`` sees the rows so far after each size (a stopped run keeps them).

    ``growth_only`` builds each store and measures only the growth part (adding ten papers, a reader's
    catch-up): no raw upsert, no memory or latency probes.
    """
    from rag.config import Settings
    from rag.embeddings import shared_embedder

    questions_file = workdir / "scale-questions.json"
    questions_file.write_text(json.dumps(questions))
    vectors_file = workdir / "scale-vectors.npy"
    embedder = shared_embedder(Settings().embed_batch_size)
    np.save(vectors_file, np.stack([embedder.embed_query(q) for q in questions]))
    rows = []
    for size in sizes:
        home = workdir / f"scale-{size}"
        row, papers = build(home, size)
        if not growth_only and size <= raw_upsert_max:
            raw = raw_upsert(papers, size, workdir / f"raw-{size}", Settings().ingest_batch)
            row["raw_upsert_chunks_per_s"] = raw
            row["ingest_ratio_ours_over_raw"] = round(row["ingest_chunks_per_s"] / raw, 3)
        del papers
        if not growth_only:  # growth-only goes straight to adding papers and the reader's catch-up
            row.update(measure_store(home, vectors_file, questions_file))
        _log(f"{size:,}: adding {NEW_PAPERS} papers while a second process has the store open")
        row.update(bench_growth(home))
        _log(f"{size:,}: {json.dumps(row)}")
        rows.append(row)
        on_row(rows)
        shutil.rmtree(home, ignore_errors=True)
    return rows


def plot_scale(rows: list[dict[str, Any]], out: Path) -> None:
    """Latency (left) and memory (right) against the number of chunks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["chunks"] for r in rows]
    fig, (latency, memory) = plt.subplots(1, 2, figsize=(10, 3.8))
    latency.plot(sizes, [r["ask_p95_ms"] for r in rows], "o-", label="extractive ask p95")
    latency.plot(sizes, [r["ask_p50_ms"] for r in rows], "o--", label="extractive ask p50")
    latency.plot(sizes, [r["retrieval_p50_ms"] for r in rows], "s--", label="retrieval p50")
    latency.plot(
        sizes,
        [r["raw_chroma_plus_bm25_p50_ms"] for r in rows],
        "^:",
        label="raw Chroma + BM25 p50 (no question embedding)",
    )
    latency.set(xscale="log", xlabel="chunks", ylabel="ms", title="Warm query latency")
    latency.set_ylim(bottom=0)
    latency.legend(fontsize=8)
    memory.plot(sizes, [r["rss_growth_mb"] for r in rows], "o-", label="ours: resident memory growth")
    memory.plot(sizes, [r["chroma_alone_rss_growth_mb"] for r in rows], "s--", label="Chroma alone: same")
    memory.plot(sizes, [r["hnsw_index_mb"] for r in rows], "^:", label="Chroma's HNSW index files")
    memory.set(xscale="log", yscale="log", xlabel="chunks", ylabel="MB", title="Memory")
    memory.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "probe":
        import rag  # noqa: F401 - offline environment defaults

        print(json.dumps(probe(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5]))))
    elif len(sys.argv) == 3 and sys.argv[1] == "reader":
        import rag  # noqa: F401 - offline environment defaults

        reader(Path(sys.argv[2]))
    else:
        sys.exit("usage: python -m bench.scale probe ours|chroma HOME VECTORS.npy QUESTIONS.json")
