"""Shared fixtures: every test gets its own RAG_HOME; the bundled corpus is indexed once per session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rag.config import BUNDLED_CORPUS, Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def rag_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point RAG_HOME at a fresh directory and keep any real LLM configuration out of tests."""
    home = tmp_path / "rag-home"
    monkeypatch.setenv("RAG_HOME", str(home))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_LLM_BASE_URL", "RAG_LLM_MODEL", "RAG_CHROMA_URL"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A RAG_HOME holding the bundled corpus, built once with the real model and real Chroma."""
    from rag.assistant import Assistant

    home = tmp_path_factory.mktemp("bundled") / "home"
    Assistant(Settings(home=home)).ingest_paths([BUNDLED_CORPUS])
    return home


@pytest.fixture
def bundled_home(bundled_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the bundled index, as RAG_HOME (tests may change it freely)."""
    home = tmp_path / "bundled-copy"
    shutil.copytree(bundled_index, home)
    monkeypatch.setenv("RAG_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def bundled_assistant(bundled_index: Path):
    """A read-only Assistant over the bundled index, shared by the tests that only ask."""
    from rag.assistant import Assistant

    return Assistant(Settings(home=bundled_index))


def run_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for running the `rag` command in a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))}
    env["RAG_HOME"] = str(home)
    env.update(extra)
    return env


RAG_COMMAND = [sys.executable, "-m", "rag.cli"]


def run_rag(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the `rag` command as a user would, against ``home``."""
    return subprocess.run(
        [*RAG_COMMAND, *args], cwd=ROOT, env=run_env(home, **env), capture_output=True, text=True, timeout=300
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a server started by a test, killing it if it does not stop in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"`rag ui` exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"`rag ui` did not answer at {url} within {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def running_ui(home: Path, log_dir: Path, command: list[str] | None = None) -> Iterator[str]:
    """`rag ui` on a free loopback port over ``home``; yields its URL and stops it afterwards."""
    port = free_port()
    log = log_dir / "server.log"
    env = run_env(home, GRADIO_TEMP_DIR=str(home.parent / "gradio-tmp"))
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*(command or RAG_COMMAND), "ui", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, process, log)
        yield url
    finally:
        stop_process(process, timeout=20)
