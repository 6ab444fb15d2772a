"""Files written whole: a reader sees the old content or the new, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

STAGING_PREFIX = ".tmp-"  # a file left with this prefix is from a write that was killed: safe to delete


def write_atomically(path: Path, write: Callable[[BinaryIO], object], mode: int | None = None) -> None:
    """Write through ``write(binary file)`` to a temporary file beside ``path``, then rename it over ``path``;
    ``mode``, if given, is set before the rename (``mkstemp`` makes files only their owner can read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=STAGING_PREFIX, dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        if mode is not None:
            os.chmod(staging, mode)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
