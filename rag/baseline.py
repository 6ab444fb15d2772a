"""An out-of-the-box llama-index pipeline, the peer every eval figure is compared against.

Default ``VectorStoreIndex`` (default chunking, in-memory store) over one document per paper, the same
bundled embedding model through llama-index's ``HuggingFaceEmbedding``, top-10 retrieval, and the top-2
chunks cited — as a tutorial would build it.
It never abstains.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rag.corpus import Paper
from rag.embeddings import model_path


@dataclass
class _Citation:
    title: str
    evidence: str = ""  # the chunk the answer quotes


@dataclass
class BaselineAnswer:
    text: str
    citations: list[_Citation]
    retrieved: list[str]
    abstained: bool = False
    latency_ms: float = 0.0
    extra: dict = field(default_factory=dict)


class LlamaIndexBaseline:
    def __init__(self, papers: list[Paper], top_k: int = 10, cite: int = 2) -> None:
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        documents = [Document(text=p.abstract, metadata={"title": p.title}) for p in papers]
        embed_model = HuggingFaceEmbedding(model_name=model_path(), device="cpu")
        self.index = VectorStoreIndex.from_documents(documents, embed_model=embed_model)
        self.retriever = self.index.as_retriever(similarity_top_k=top_k)
        self.cite = cite

    def ask(self, question: str) -> BaselineAnswer:
        started = time.perf_counter()
        nodes = self.retriever.retrieve(question)
        titles = list(dict.fromkeys(n.node.metadata["title"] for n in nodes))
        cited = nodes[: self.cite]
        text = " ".join(f"{n.node.get_content()} [{i}]" for i, n in enumerate(cited, start=1))
        return BaselineAnswer(
            text=text,
            citations=[_Citation(n.node.metadata["title"], n.node.get_content()) for n in cited],
            retrieved=titles,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
