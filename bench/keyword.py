"""The keyword engine: tantivy (ours, grows in place) next to bm25s (the engine it replaced, rebuilt whole).

Both index the same entries (the bundled corpus plus seeded synthetic abstracts, as ``keyword_text``) and
answer the same questions. Measured for each: building the index, its size on disk, query latency, the
resident memory of a fresh process that opens it and answers every question (``python -m bench.keyword
probe ENGINE DIR QUESTIONS``), the agreement of their top 60 hits, and adding ten papers: tantivy adds a
segment, bm25s has to rebuild from every entry.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.workload import ROOT, percentile, synthetic_papers

ENGINES = ("tantivy", "bm25s")


def entries(target_chunks: int, seed: int) -> list[Any]:
    """Keyword entries for the bundled corpus plus synthetic abstracts, about ``target_chunks`` in all."""
    from rag.config import BUNDLED_CORPUS, Settings
    from rag.corpus import load_file
    from rag.ingest import chunk_paper
    from rag.keyword import Entry, keyword_text

    settings = Settings()
    found: list[Any] = []
    papers = load_file(BUNDLED_CORPUS)
    batch = 2_000
    while True:
        for paper in papers:
            for chunk in chunk_paper(paper, settings.chunk_size, settings.chunk_overlap):
                found.append(Entry(chunk.id, keyword_text(chunk.metadata, chunk.text)))
        if len(found) >= target_chunks:
            return found[:target_chunks]
        papers = synthetic_papers(batch, seed=seed + len(found))


def _open(engine: str, path: Path) -> Any:
    if engine == "tantivy":
        from rag.keyword import KeywordIndex

        return KeywordIndex.load(path)
    from bench.bm25s_index import KeywordIndex as Bm25sIndex

    return Bm25sIndex.load(path, numba_from=250_000)


def _build(engine: str, path: Path, items: list[Any]) -> None:
    if engine == "tantivy":
        from rag.keyword import KeywordIndex

        KeywordIndex.build(path, items, generation="bench")
        return
    from bench.bm25s_index import KeywordIndex as Bm25sIndex

    index = Bm25sIndex.build([e.chunk_id for e in items], [e.text for e in items], [{}] * len(items), "bench")
    assert index is not None
    index.save(path)


def probe(engine: str, path: Path, questions_file: Path) -> dict[str, Any]:
    """In a fresh process: memory growth of opening the index and answering every question, and latency."""
    import psutil

    def rss_mb() -> float:
        gc.collect()
        return psutil.Process().memory_info().rss / 1e6

    import bm25s  # noqa: F401 - both engines' imports before the baseline reading
    import tantivy  # noqa: F401

    asked = json.loads(questions_file.read_text())
    before = rss_mb()
    index = _open(engine, path)
    index.search(asked[0], 60)  # a first search (bm25s compiles its numba scorer here on large indexes)
    latencies = []
    for question in asked:
        started = time.perf_counter()
        index.search(question, 60)
        latencies.append((time.perf_counter() - started) * 1000)
    return {
        "rss_growth_mb": round(rss_mb() - before, 1),
        "query_p50_ms": round(percentile(latencies, 0.5), 2),
        "query_p95_ms": round(percentile(latencies, 0.95), 2),
    }


def bench_keyword(target_chunks: int, workdir: Path, questions: list[str]) -> dict[str, Any]:
    items = entries(target_chunks, seed=target_chunks)
    extra = entries(len(items) + 60, seed=target_chunks + 1)[len(items) :]  # about ten papers' entries
    questions_file = workdir / "keyword-questions.json"
    questions_file.write_text(json.dumps(questions))
    result: dict[str, Any] = {"entries": len(items), "added_entries": len(extra)}
    hits: dict[str, list[set[str]]] = {}
    for engine in ENGINES:
        path = workdir / f"keyword-{engine}"
        started = time.perf_counter()
        _build(engine, path, items)
        built = time.perf_counter() - started
        done = subprocess.run(
            [sys.executable, "-m", "bench.keyword", "probe", engine, str(path), str(questions_file)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        index = _open(engine, path)
        hits[engine] = [{h.chunk_id for h in index.search(q, 60)} for q in questions]
        started = time.perf_counter()
        if engine == "tantivy":
            index.update(extra, [], generation="bench+10")
        else:
            _build(engine, path, items + extra)  # bm25s has no incremental add
        added = time.perf_counter() - started
        disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
        result[engine] = {"build_s": round(built, 1), "add_ten_papers_s": round(added, 2), "disk_mb": round(disk, 1)}
        result[engine].update(figures)
    overlap = [len(a & b) / max(1, len(b)) for a, b in zip(hits["tantivy"], hits["bm25s"], strict=True)]
    result["top60_overlap_with_bm25s"] = round(sum(overlap) / len(overlap), 3)
    result["query_p50_ratio_tantivy_over_bm25s"] = round(
        result["tantivy"]["query_p50_ms"] / max(result["bm25s"]["query_p50_ms"], 1e-6), 3
    )
    return result


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "probe":
        import rag  # noqa: F401 - offline environment defaults

        print(json.dumps(probe(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
    else:
        sys.exit("usage: python -m bench.keyword probe tantivy|bm25s DIR QUESTIONS.json")
