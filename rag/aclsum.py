"""The ACLSum benchmark: human-written summaries of ACL papers, asked as questions over a mixed collection.

ACLSum (the ``aclsum`` package, MIT / CC BY 4.0) holds 250 ACL papers, each with annotators' one-sentence
summaries of its challenge, approach and outcome, and the abstract sentences they highlighted as the
source of each. The benchmark asks every summary whose aspect has a highlighted abstract sentence as
"Which paper addresses this problem: <summary>" over the bundled papers plus all ACLSum abstracts; the gold
answer is the paper, the gold evidence its highlighted sentences.

The package's data files are read directly (nothing is downloaded; the package's own loader is not
imported). Splits: develop on ``train``, choose settings on ``val``, report ``test`` once.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Literal

from rag.config import BUNDLED_CORPUS, Settings
from rag.corpus import Paper, load_corpus, make_paper
from rag.errors import RagError
from rag.evaluate import GoldQuestion

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
ASPECTS = ("challenge", "approach", "outcome")
QUESTION = "Which paper addresses this problem: {summary}"


def dataset_dir() -> Path:
    spec = importlib.util.find_spec("aclsum")
    if spec is None or not spec.submodule_search_locations:
        raise RagError(
            "the ACLSum benchmark needs the aclsum package", "install it with `pip install aclsum` (make eval does)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "dataset"


def _rows(split: Split) -> list[dict]:
    path = dataset_dir() / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def detokenize(sentence: str) -> str:
    """ACLSum's sentences are tokenised ("a model ( MT ) , which"): put the spaces back where text has them."""
    text = re.sub(r"\s+([.,;:!?%)\]}])", r"\1", sentence)
    text = re.sub(r"([(\[{])\s+", r"\1", text)
    text = re.sub(r"\s+(n't|'s|'re|'ve|'ll|'d)\b", r"\1", text)
    return " ".join(text.split())


def papers() -> list[Paper]:
    """Every ACLSum paper (all splits), its abstract rebuilt from the annotated sentences."""
    source = dataset_dir()
    found = []
    for split in SPLITS:
        for row in _rows(split):
            abstract = " ".join(detokenize(s) for s in row["sentences"]["abstract"])
            found.append(make_paper(row["title"], abstract, file=source / f"{split}.jsonl", line=None))
    return found


def collection() -> list[Paper]:
    """The benchmark's collection: the bundled papers and every ACLSum paper."""
    return load_corpus([BUNDLED_CORPUS]) + papers()


def questions(split: Split) -> list[GoldQuestion]:
    """One question per paper and aspect that has a highlighted abstract sentence."""
    asked = []
    for row in _rows(split):
        sentences = row["sentences"]["abstract"]
        for aspect in ASPECTS:
            marks = row["highlights"][aspect]["abstract"]
            evidence = tuple(detokenize(s) for s, mark in zip(sentences, marks, strict=True) if mark == 1)
            if not evidence:
                continue
            asked.append(
                GoldQuestion(
                    id=f"{row['id']}:{aspect}",
                    question=QUESTION.format(summary=row["summary"][aspect].strip()),
                    kind=aspect,
                    gold_titles=(" ".join(row["title"].split()),),
                    also_ok=(),
                    must_mention=(),
                    answerable=True,
                    evidence=evidence,
                )
            )
    return asked


def benchmark_settings(settings: Settings) -> Settings:
    """The benchmark's own store, beside the user's index: it never touches the user's collection."""
    return settings.model_copy(update={"home": settings.home / "benchmarks" / "aclsum"})
