"""All settings in one place: environment variables with the ``RAG_`` prefix (and the OpenAI ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from platformdirs import user_data_dir
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_CORPUS = Path(__file__).resolve().parent.parent / "data" / "daily_papers.txt"

# The allowed values of the choices a user makes, spelled once: Settings, the CLI options and the UI's
# controls are all built from these.
RetrieverName = Literal["hybrid", "dense", "bm25"]
AnswererName = Literal["auto", "llm", "extractive"]
RETRIEVERS: tuple[RetrieverName, ...] = get_args(RetrieverName)
ANSWERERS: tuple[AnswererName, ...] = get_args(AnswererName)


def _default_home() -> Path:
    return Path(user_data_dir("rag", appauthor=False))


class Settings(BaseSettings):
    """Every knob of the assistant. Each field reads ``RAG_<NAME>`` unless noted."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", populate_by_name=True)

    # --- store ---
    home: Path = Field(default_factory=_default_home, description="Directory holding the index (Chroma + BM25).")
    chroma_url: str | None = Field(
        default=None, description="URL of a Chroma server (http://host:port); unset = embedded store under home."
    )
    collection: str = Field(default="papers", description="Chroma collection name.")
    recent_vectors: int = Field(
        default=20_000,
        ge=0,
        description="Vectors added plus ids removed that the recent-vectors log keeps, so that other processes "
        "over the embedded store catch up without reopening it; past it they reopen.",
    )

    # --- indexing ---
    chunk_size: int = Field(default=64, ge=16, le=2048, description="Chunk size in tokens (sentence splitter).")
    chunk_overlap: int = Field(default=0, ge=0, le=512, description="Token overlap between chunks.")
    paper_vectors: bool = Field(
        default=True, description="Also index one whole-abstract vector per paper (helps topic questions)."
    )
    ingest_batch: int = Field(
        default=1024, ge=16, description="Chunks embedded (in length order) and written to Chroma per step."
    )
    embed_batch_size: int = Field(
        default=4,
        ge=1,
        description="Texts per embedding batch (ONNX Runtime's single-threaded ingest copy was fastest at 2-4).",
    )
    embed_backend: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="onnx (ONNX Runtime, no torch on the question path) or torch (sentence-transformers); "
        "both give the same vectors.",
    )

    # --- retrieval ---
    top_k: int = Field(default=10, ge=1, le=100, description="Papers returned by retrieval (the ranking size).")
    retriever: RetrieverName = Field(
        default="hybrid", description="hybrid (dense embeddings + BM25 keywords, fused), dense or bm25."
    )
    candidates: int = Field(default=60, ge=5, description="Chunks fetched from each retriever before fusion.")
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal-rank-fusion constant.")
    abstain_below: float = Field(
        default=0.15,
        description="Abstain outright when the best paper's relevance is below this (below every answerable dev "
        "question's).",
    )
    low_relevance_below: float = Field(
        default=0.40,
        description="An answer whose best cited paper's relevance is below this is flagged as low relevance.",
    )
    max_question_chars: int = Field(default=2000, ge=50, description="Longer questions are truncated.")

    # --- LLM (optional) ---
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "RAG_LLM_API_KEY"),
        description="API key for the OpenAI-compatible endpoint (OPENAI_API_KEY).",
    )
    llm_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RAG_LLM_BASE_URL", "OPENAI_BASE_URL"),
        description="Base URL of an OpenAI-compatible server (RAG_LLM_BASE_URL or OPENAI_BASE_URL).",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Chat model name.")
    llm_timeout: float = Field(default=60.0, gt=0, description="Seconds before an LLM request times out.")
    llm_max_retries: int = Field(default=2, ge=0, le=10, description="Retries on 429/5xx/connection errors.")
    llm_context_tokens: int = Field(default=8000, ge=512, description="Token budget for the prompt sources.")
    answerer: AnswererName = Field(
        default="auto", description="auto (the LLM when one is configured, else extractive), llm or extractive."
    )

    # --- UI ---
    ui_host: str = Field(default="127.0.0.1", description="Address the UI binds to.")
    ui_port: int = Field(default=7860, ge=1, le=65535, description="UI port.")
    ui_auth: SecretStr | None = Field(default=None, description="user:password, required to bind beyond loopback.")

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None or self.llm_base_url is not None

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def bm25_path(self) -> Path:
        return self.home / "bm25"

    @property
    def catalogue_path(self) -> Path:
        return self.home / "papers.json"

    @property
    def recent_path(self) -> Path:
        return self.home / "recent-vectors"


def mask_secret(secret: SecretStr | str | None) -> str:
    """Show only enough of a key to recognise it: ``sk-…abcd``."""
    if secret is None:
        return "(not set)"
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if len(value) <= 8:
        return "****"
    return f"{value[:3]}…{value[-4:]}"
