"""Environment defaults that keep every dependency off the network (set only when unset)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def _tiktoken_cache() -> str | None:
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache")


def apply() -> None:
    defaults = {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TOKENIZERS_PARALLELISM": "false",
        # Library progress bars (model weights, BM25 loading) would clutter the CLI's own output.
        "TQDM_DISABLE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
    }
    cache = _tiktoken_cache()
    if cache:
        defaults["TIKTOKEN_CACHE_DIR"] = cache
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
