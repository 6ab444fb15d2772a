"""Files written whole: a reader sees the old content or the new, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

STAGING_PREFIX = ".tmp-"  # a file left with this prefix is from a write that was killed: safe to delete
READABLE_BY_ALL = 0o644  # cache files one account builds (e.g. in an image) and another reads


def write_atomically(path: Path, write: Callable[[BinaryIO], object], mode: int | None = None) -> None:
    """Write through ``write(binary file)`` to a temporary file beside ``path``, then rename it over ``path``;
    ``mode``, if given, is set before the rename (``mkstemp`` makes files only their owner can read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=STAGING_PREFIX, dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        put_in_place(Path(staging), path, mode)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def put_in_place(staging: Path, path: Path, mode: int | None = None) -> None:
    """Rename a finished file over ``path`` in one step, ``mode`` set first if given (for a file something else
    wrote by name, e.g. ``torch.onnx.export``)."""
    if mode is not None:
        staging.chmod(mode)
    os.replace(staging, path)
