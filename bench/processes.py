"""Starting `rag` as a user would, in another process: shared by the benchmarks and the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAG_COMMAND = [sys.executable, "-m", "rag.cli"]


def run_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for running the `rag` command in a subprocess: ``home`` as RAG_HOME, no LLM or server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_"))}
    env["RAG_HOME"] = str(home)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a server we started, killing it if it does not stop in time."""
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
