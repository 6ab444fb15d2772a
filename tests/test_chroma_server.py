"""The same pipeline against a real Chroma server (`chroma run`) as against the embedded store.

A session fixture starts `chroma run` on a free loopback port in a temp dir, waits for its heartbeat and stops
it at the end. The bundled corpus is ingested into the server with the real bundled model; to keep the suite
fast, the vectors that model already computed for the embedded session index are replayed (checked below to
equal fresh ones), and anything not among them is embedded for real.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port, stop_process
from conftest import run_rag as rag

from rag.assistant import AskOptions, Assistant
from rag.config import BUNDLED_CORPUS, Settings
from rag.embeddings import Embedder, shared_embedder
from rag.keyword import keyword_text
from rag.store import ChunkStore, StoreError

COT_QUESTION = "Which papers say chain-of-thought hurts performance?"
MIND_YOUR_STEP = "Mind Your Step (by Step): Chain-of-Thought can Reduce Performance"
ZEBRA = (
    "We introduce ZebraNet, a graph network that counts zebra stripes in aerial photographs. "
    "ZebraNet reaches 97.5% counting accuracy on the StripeCount dataset."
)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`chroma run` on a free loopback port; yields its URL once the heartbeat answers."""
    chroma = Path(sys.executable).parent / "chroma"
    workdir = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(workdir / "server.log", "wb") as log:
        server = subprocess.Popen(
            [str(chroma), "run", "--path", str(workdir / "db"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"chroma run exited ({server.returncode}): {(workdir / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the Chroma server did not answer its heartbeat within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        stop_process(server)


class ReplayEmbedder(Embedder):
    """The real bundled model, replaying the vectors it already computed for known texts."""

    def __init__(self, known: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.known = known
        self.computed = 0

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            self.known.update(zip(missing, shared_embedder().embed_texts(missing), strict=True))
            self.computed += len(missing)
        return np.stack([self.known[t] for t in texts]) if texts else super().embed_texts(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return shared_embedder().embed_query(text)


@pytest.fixture(scope="session")
def replay_embedder(bundled_index: Path) -> ReplayEmbedder:
    result = ChunkStore(Settings(home=bundled_index)).collection.get(include=["documents", "metadatas", "embeddings"])
    known = {
        keyword_text(meta, doc): np.asarray(vector, dtype=np.float32)
        for doc, meta, vector in zip(result["documents"], result["metadatas"], result["embeddings"], strict=True)
    }
    return ReplayEmbedder(known)


@pytest.fixture(scope="session")
def server_settings(chroma_server: str, replay_embedder: ReplayEmbedder, tmp_path_factory: pytest.TempPathFactory):
    """Settings for the server, which holds the bundled corpus (the home keeps only the keyword index)."""
    settings = Settings(home=tmp_path_factory.mktemp("server-home") / "home", chroma_url=chroma_server)
    report = Assistant(settings, embedder=replay_embedder).ingest_paths([BUNDLED_CORPUS])
    assert report.papers_added == 80 and report.papers_total == 80
    return settings


@pytest.fixture(params=["embedded", "server"])
def backend(request: pytest.FixtureRequest) -> Settings:
    """Writable settings for each backend: a private copy of the embedded index, or the session's server."""
    if request.param == "embedded":
        return Settings(home=request.getfixturevalue("bundled_home"))
    return request.getfixturevalue("server_settings")


def counts(settings: Settings) -> tuple[int, int]:
    store = ChunkStore(settings)
    return len(store.papers()), store.count()


def test_replayed_vectors_are_the_models_own(replay_embedder: ReplayEmbedder) -> None:
    texts = list(replay_embedder.known)[::97][:4]
    fresh = shared_embedder().embed_texts(texts)
    assert np.allclose(fresh, np.stack([replay_embedder.known[t] for t in texts]), atol=1e-4)


def test_cot_question_cites_mind_your_step(backend: Settings, replay_embedder: ReplayEmbedder) -> None:
    answer = Assistant(backend, embedder=replay_embedder).ask(COT_QUESTION)
    assert not answer.abstained and answer.mode == "extractive"
    assert any(c.title.startswith(MIND_YOUR_STEP) for c in answer.citations), [c.title for c in answer.citations]
    assert len(answer.retrieved) >= 10


def test_ingest_twice_gives_identical_counts(
    backend: Settings, bundled_index: Path, replay_embedder: ReplayEmbedder
) -> None:
    before = counts(backend)
    assert before == counts(Settings(home=bundled_index))  # both backends hold the same 80 papers and chunks
    report = Assistant(backend, embedder=replay_embedder).ingest_paths([BUNDLED_CORPUS])
    assert report.papers_unchanged == 80 and report.chunks_written == 0 and report.chunks_deleted == 0
    assert counts(backend) == before == (report.papers_total, report.chunks_total)


def test_server_holds_the_chunks_and_the_keyword_index_is_rebuilt_locally(
    server_settings: Settings, replay_embedder: ReplayEmbedder
) -> None:
    import shutil

    import chromadb

    home = server_settings.home
    assert not (home / "chroma").exists()  # nothing of Chroma is stored locally
    host, port = server_settings.chroma_url.removeprefix("http://").split(":")
    direct = chromadb.HttpClient(host=host, port=int(port), settings=chromadb.Settings(anonymized_telemetry=False))
    assert direct.get_collection(server_settings.collection).count() == counts(server_settings)[1]

    shutil.rmtree(server_settings.bm25_path)  # the local BM25 index is derived data: rebuilt from the server
    answer = Assistant(server_settings, embedder=replay_embedder).ask(COT_QUESTION, AskOptions(retriever="bm25"))
    assert any(c.title.startswith(MIND_YOUR_STEP) for c in answer.citations)
    assert (server_settings.bm25_path / "manifest.json").exists()


def test_rebuild_on_the_server_drops_only_its_own_collection(
    server_settings: Settings, replay_embedder: ReplayEmbedder, tmp_path: Path
) -> None:
    scratch = server_settings.model_copy(update={"collection": "scratch", "home": tmp_path / "scratch-home"})
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps({"title": "ZebraNet: Counting Stripes", "abstract": ZEBRA}) + "\n")
    second = tmp_path / "second.jsonl"
    second.write_text(json.dumps({"title": "GiraffeNet", "abstract": ZEBRA.replace("zebra", "giraffe")}) + "\n")
    assistant = Assistant(scratch, embedder=replay_embedder)
    assistant.ingest_paths([first])
    assistant.ingest_paths([second], rebuild=True)
    assert [p.title for p in Assistant(scratch, embedder=replay_embedder).papers()] == ["GiraffeNet"]
    assert counts(server_settings)[0] == 80  # the main collection on the same server is untouched


def test_cli_against_the_server(server_settings: Settings) -> None:
    env = {"RAG_CHROMA_URL": str(server_settings.chroma_url)}
    info = rag(server_settings.home, "info", **env)
    assert info.returncode == 0, info.stderr
    assert f"Chroma server {server_settings.chroma_url}" in info.stdout
    assert " 80\n" in info.stdout and f" {counts(server_settings)[1]}\n" in info.stdout
    again = rag(server_settings.home, "ingest", **env)  # nothing changed: no embedding, same counts
    assert again.returncode == 0, again.stderr
    assert "80 unchanged" in again.stdout and "(0 chunks written, 0 removed)" in again.stdout


@pytest.mark.parametrize(
    ("url", "needle"),
    [("http://127.0.0.1:{closed}", "cannot reach the Chroma server"), ("localhost:8000", "not an http(s)://")],
)
@pytest.mark.parametrize("command", [("ask", COT_QUESTION), ("ingest",)])
def test_unreachable_server_is_a_one_line_error_exit_2(
    rag_home: Path, url: str, needle: str, command: tuple[str, ...]
) -> None:
    url = url.format(closed=free_port())
    result = rag(rag_home, *command, RAG_CHROMA_URL=url)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "Traceback" not in result.stderr
    assert needle in lines[0] and "RAG_CHROMA_URL" in lines[0]
    assert not (rag_home / "ingest-in-progress").exists()  # a failed start leaves no crash marker behind
    with pytest.raises(StoreError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        ChunkStore(Settings(home=rag_home, chroma_url=url)).count()
