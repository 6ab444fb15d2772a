"""Keeps the benchmark code alive: each benchmark runs at a tiny size (timings are not asserted)."""

from __future__ import annotations

from pathlib import Path

from bench import run as bench
from bench.scale import bench_scale, plot_scale
from bench.workload import SeededEmbedder, questions, synthetic_papers


def test_workload_is_seeded() -> None:
    papers = synthetic_papers(6)
    assert len({p.id for p in papers}) == 6
    assert [p.abstract for p in synthetic_papers(6)] == [p.abstract for p in papers]
    vectors = SeededEmbedder(seed=3).embed_texts(["a", "b"])
    assert vectors.shape == (2, 384) and abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-5
    assert (SeededEmbedder(seed=3).embed_texts(["x", "y"]) == vectors).all()
    asked = questions(80)
    assert len(asked) == 80 and len(set(asked[:70])) == 70


def test_benchmarks_run_at_tiny_size(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ingest = bench.bench_ingest(synthetic_papers(6), home)
    assert ingest["papers"] == 6 and ingest["chunks"] > 6 and ingest["ratio_ours_over_raw"] > 0
    query = bench.bench_query(home, ["What is grokking?", "Which papers use synthetic data?"])
    assert query["questions"] == 2 and query["ask_p95_ms"] > 0 and query["retrieval_overhead_ratio_p50"] > 0
    assert query["embed_query_ratio_onnx_over_torch"] > 0 and query["torch_ask_p50_ms"] > 0
    cold = bench.bench_cold_start(home, runs=1)
    assert cold["rag_ask_s"] > 0 and cold["ratio"] > 0
    threads = bench.bench_concurrency(home, ["What is grokking?"] * 4, [1, 2])
    assert [v["errors"] for v in threads.values()] == [0, 0] and all(v["qps"] > 0 for v in threads.values())
    ui = bench.bench_ui_concurrency(home, ["What is grokking?"] * 4, [1, 2], tmp_path)
    assert [v["errors"] for v in ui.values()] == [0, 0] and all(v["qps"] > 0 for v in ui.values())


def test_scale_benchmark_at_tiny_size(tmp_path: Path) -> None:
    rows = bench_scale([1_500], tmp_path, ["What throughput improvement does AsyncFlow report?", "What is grokking?"])
    row = rows[0]
    assert 1_300 <= row["chunks"] <= 1_700  # the bundled corpus plus synthetic abstracts, about as asked
    assert row["hnsw_index_mb"] > 0 and row["rss_growth_mb"] > 0 and row["chroma_alone_rss_growth_mb"] > 0
    assert row["ask_p95_ms"] > 0 and row["raw_upsert_chunks_per_s"] > 0
    assert row["papers_added"] == 10 and row["reader_cites_new_paper"] and row["add_ten_papers_s"] > 0
    assert not row["reader_reopened_store"]  # it caught up through the recent-vectors log
    assert not (tmp_path / "scale-1500").exists()  # each store is removed once measured
    plot_scale(rows, tmp_path / "scale.png")
    assert (tmp_path / "scale.png").stat().st_size > 1000


def test_keyword_engines_benchmark_at_tiny_size(tmp_path: Path) -> None:
    from bench.keyword import bench_keyword

    result = bench_keyword(1_500, tmp_path, ["What is grokking?", "Which papers study theory of mind?"])
    for engine in ("tantivy", "bm25s"):
        assert result[engine]["query_p50_ms"] > 0 and result[engine]["build_s"] >= 0
    assert result["entries"] == 1_500 and 0 < result["top60_overlap_with_bm25s"] <= 1
