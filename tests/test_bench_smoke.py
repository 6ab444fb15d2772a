"""Keeps the benchmark code alive: each benchmark runs at a tiny size (timings are not asserted)."""

from __future__ import annotations

from pathlib import Path

from bench import run as bench


def test_benchmarks_run_at_tiny_size(tmp_path: Path) -> None:
    papers = bench.synthetic_papers(6)
    assert len({p.id for p in papers}) == 6
    ingest = bench.bench_ingest(papers, tmp_path / "home")
    assert ingest["papers"] == 6 and ingest["chunks"] > 6 and ingest["ratio_ours_over_raw"] > 0
    query = bench.bench_query(tmp_path / "home", ["What is grokking?", "Which papers use synthetic data?"])
    assert query["ask_p95_ms"] > 0 and query["retrieval_overhead_ratio_p50"] > 0
    concurrency = bench.bench_concurrency(tmp_path / "home", ["What is grokking?"] * 4, [1, 2])
    assert all(v["errors"] == 0 for v in concurrency.values())
    scale = bench.bench_scale([300], tmp_path)
    assert scale[0]["chunks"] == 300 and scale[0]["query_p95_ms"] > 0
    bench.plot_scale(scale, tmp_path / "scale.png")
    assert (tmp_path / "scale.png").stat().st_size > 1000
