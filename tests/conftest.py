"""Shared fixtures: every test gets its own RAG_HOME; the bundled corpus is indexed once per session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bench.processes import RAG_COMMAND, ROOT, free_port, run_env, running_ui, stop_process, wait_until_up
from rag.config import BUNDLED_CORPUS, Settings

__all__ = ["RAG_COMMAND", "ROOT", "free_port", "run_env", "run_rag", "running_ui", "stop_process", "wait_until_up"]


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


def run_rag(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the `rag` command as a user would, against ``home``."""
    return subprocess.run(
        [*RAG_COMMAND, *args], cwd=ROOT, env=run_env(home, **env), capture_output=True, text=True, timeout=300
    )
