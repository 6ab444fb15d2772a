"""Benchmarks, each reported next to a baseline measured in the same run.

    python -m bench.run [--size tiny|full] [--out bench/results] [--skip NAME ...] [--scale N ...] [--growth-only]

- ingest: our ingest (chunk, embed on ONNX Runtime, upsert, keyword index) vs raw sentence-transformers
  encoding of the same texts, for the bundled corpus and for synthetic abstracts (10,000 at full size);
- query: warm retrieval and full extractive ``ask`` vs a raw Chroma query + raw BM25 query on the same store;
  embedding one question on ONNX Runtime vs sentence-transformers on PyTorch; ``ask`` on either;
- cold: ``rag ask`` in a fresh process vs ``python -c "import sentence_transformers"``;
- keyword: the tantivy keyword index vs the bm25s one it replaced (``bench/keyword.py``);
- concurrency: queries/s with 1, 4 and 16 clients against one ``Assistant`` (threads) and against ``rag ui``
  through ``gradio_client``;
- scale: ingest, latency and memory at 10k, 100k and 1M chunks (``bench/scale.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.processes import running_ui
from bench.scale import bench_scale, plot_scale
from bench.workload import ROOT, machine, percentile, query_latencies, questions, synthetic_papers

SIZES = {
    "tiny": {
        "synthetic_papers": 40,
        "questions": 20,
        "scale": [2_000],
        "keyword_entries": 2_000,
        "clients": [1, 4],
        "ui_questions": 8,
    },
    "full": {
        "synthetic_papers": 10_000,
        "questions": 200,
        "keyword_entries": 100_000,
        "scale": [10_000, 100_000, 1_000_000],
        "clients": [1, 4, 16],
        "ui_questions": 96,
    },
}
BENCHMARKS = ("ingest", "query", "cold", "keyword", "concurrency", "ui", "scale")


def bench_ingest(papers: list[Any], home: Path) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.embeddings import model_path
    from rag.ingest import chunk_paper
    from rag.keyword import keyword_text

    settings = Settings(home=home)
    assistant = Assistant(settings)
    _ = assistant.embedder.encoder, assistant.embedder.bulk_encoder  # load outside the timing, like the raw model
    started = time.perf_counter()
    report = assistant.ingest_papers(papers)
    ours = time.perf_counter() - started

    texts = [keyword_text(c.metadata, c.text) for p in papers for c in chunk_paper(p, settings.chunk_size, 0)]
    raw_model = SentenceTransformer(model_path(), device="cpu")
    started = time.perf_counter()
    raw_model.encode(texts, normalize_embeddings=True)  # its own default batch size (32)
    raw = time.perf_counter() - started
    return {
        "papers": len(papers),
        "chunks": report.chunks_total,
        "ours_chunks_per_s": round(report.chunks_total / ours, 1),
        "ours_papers_per_s": round(len(papers) / ours, 1),
        "raw_encode_chunks_per_s": round(len(texts) / raw, 1),
        "ratio_ours_over_raw": round((report.chunks_total / ours) / (len(texts) / raw), 3),
    }


def bench_query(home: Path, asked: list[str]) -> dict[str, Any]:
    """Warm latencies on ONNX Runtime (ours), the same ``ask`` with the PyTorch embedding (the previous path),
    and embedding one question on each."""
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.embeddings import Embedder

    figures = query_latencies(Assistant(Settings(home=home)), asked)
    torch_path = query_latencies(Assistant(Settings(home=home), embedder=Embedder(backend="torch")), asked)
    figures["torch_ask_p50_ms"] = torch_path["ask_p50_ms"]
    figures["torch_ask_p95_ms"] = torch_path["ask_p95_ms"]
    figures["ask_p50_ratio_onnx_over_torch"] = round(figures["ask_p50_ms"] / torch_path["ask_p50_ms"], 3)
    embed = {}
    for backend in ("onnx", "torch"):
        embedder = Embedder(backend=backend)  # type: ignore[arg-type]
        embedder.embed_query(asked[0])
        times = []
        for question in asked:
            started = time.perf_counter()
            embedder.embed_query(question)
            times.append((time.perf_counter() - started) * 1000)
        embed[backend] = statistics.median(times)
    figures["embed_query_onnx_p50_ms"] = round(embed["onnx"], 2)
    figures["embed_query_torch_p50_ms"] = round(embed["torch"], 2)
    figures["embed_query_ratio_onnx_over_torch"] = round(embed["onnx"] / embed["torch"], 3)
    return figures


def bench_cold_start(home: Path, runs: int = 5) -> dict[str, Any]:
    """Median wall time of a fresh `rag ask`, next to the bare import of sentence-transformers, interleaved."""
    env = {**os.environ, "RAG_HOME": str(home)}
    rag = [sys.executable, "-m", "rag.cli", "ask", "What throughput improvement does AsyncFlow report?"]
    base = [sys.executable, "-c", "import sentence_transformers"]

    def wall(command: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True, cwd=ROOT)
        return time.perf_counter() - started

    ours, bare = [], []
    for _ in range(runs):  # interleaved, so a slow moment of the machine hits both
        ours.append(wall(rag))
        bare.append(wall(base))
    return {
        "runs": runs,
        "rag_ask_s": round(statistics.median(ours), 2),
        "import_sentence_transformers_s": round(statistics.median(bare), 2),
        "ratio": round(statistics.median(ours) / statistics.median(bare), 3),
    }


def _load(ask: Any, asked: list[str], clients: int) -> dict[str, Any]:
    """``asked`` shared out over ``clients`` threads, each calling ``ask(question)``: q/s, latency, errors."""
    latencies: list[float] = []
    errors: list[str] = []

    def one(question: str) -> None:
        started = time.perf_counter()
        try:
            ask(question)
        except Exception as error:  # every failure is counted
            errors.append(repr(error)[:200])
        latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, asked))
    elapsed = time.perf_counter() - started
    return {
        "qps": round(len(asked) / elapsed, 2),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def bench_concurrency(home: Path, asked: list[str], clients: list[int]) -> dict[str, Any]:
    """Threads sharing one ``Assistant``."""
    from rag.assistant import AskOptions, Assistant
    from rag.config import Settings

    assistant = Assistant(Settings(home=home))
    extractive = AskOptions(answerer="extractive")
    assistant.ask(asked[0], extractive)
    return {f"{count}_clients": _load(lambda q: assistant.ask(q, extractive), asked, count) for count in clients}


def bench_ui_concurrency(home: Path, asked: list[str], clients: list[int], log_dir: Path) -> dict[str, Any]:
    """Clients of ``rag ui``'s API through ``gradio_client``: each thread its own ``Client``, as separate users."""
    import threading

    from gradio_client import Client

    def new_clients(url: str) -> Any:
        """An ``ask`` whose every thread connects its own ``Client`` on first use (connecting is part of the load)."""
        local = threading.local()

        def ask(question: str) -> None:
            if not hasattr(local, "client"):
                local.client = Client(url, verbose=False)
            answer = local.client.predict(question, api_name="/ask")
            if not (isinstance(answer, dict) and "citations" in answer):
                raise ValueError(f"unexpected reply: {str(answer)[:100]}")

        return ask

    with running_ui(home, log_dir) as url:
        Client(url, verbose=False).predict(asked[0], api_name="/ask")  # warm the server
        return {f"{count}_clients": _load(new_clients(url), asked, count) for count in clients}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--skip", nargs="*", default=[], choices=BENCHMARKS, help="benchmarks to leave out")
    parser.add_argument("--scale", nargs="*", type=int, help="chunk counts for the scale benchmark")
    parser.add_argument(
        "--growth-only",
        action="store_true",
        help="scale benchmark: build each store, then measure only adding ten papers and a reader's catch-up",
    )
    args = parser.parse_args()
    size = SIZES[args.size]
    args.out.mkdir(parents=True, exist_ok=True)
    import rag  # noqa: F401 - offline environment defaults
    from rag.assistant import Assistant
    from rag.config import BUNDLED_CORPUS, Settings
    from rag.corpus import load_file

    results: dict[str, Any] = {"machine": machine(), "size": args.size, "started": time.strftime("%Y-%m-%d %H:%M")}
    asked = questions(size["questions"])
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))

    def save() -> None:  # after every benchmark, so a long run that is stopped keeps what it measured
        (args.out / f"results-{args.size}.json").write_text(json.dumps(results, indent=2) + "\n")

    try:
        bundled_home = work / "bundled"
        if "ingest" not in args.skip:
            results["ingest_bundled"] = bench_ingest(load_file(BUNDLED_CORPUS), bundled_home)
            save()
            results["ingest_synthetic"] = bench_ingest(synthetic_papers(size["synthetic_papers"]), work / "synthetic")
            shutil.rmtree(work / "synthetic", ignore_errors=True)
            save()
        else:
            Assistant(Settings(home=bundled_home)).ingest_paths([BUNDLED_CORPUS])
        if "query" not in args.skip:
            results["query"] = bench_query(bundled_home, asked)
            save()
        if "cold" not in args.skip:
            results["cold_start"] = bench_cold_start(bundled_home)
            save()
        if "keyword" not in args.skip:
            from bench.keyword import bench_keyword

            results["keyword"] = bench_keyword(size["keyword_entries"], work, asked)
            save()
        load = asked[: size["ui_questions"]]
        if "concurrency" not in args.skip:
            results["concurrency_threads"] = bench_concurrency(bundled_home, load, size["clients"])
            save()
        if "ui" not in args.skip:
            results["concurrency_ui"] = bench_ui_concurrency(bundled_home, load, size["clients"], work)
            save()
        if "scale" not in args.skip:

            def keep_rows(rows: list[dict[str, Any]]) -> None:
                results["scale"] = rows
                if not args.growth_only:  # the plot needs the latency and memory figures
                    plot_scale(rows, args.out / f"scale-{args.size}.png")
                save()

            bench_scale(args.scale or size["scale"], work, asked, on_row=keep_rows, growth_only=args.growth_only)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M")
    save()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
