"""When to say "the abstracts don't answer this" instead of answering.

Two calibrated checks (see eval/gold.jsonl and the README's evaluation section):
1. relevance: the best paper's similarity to the question is below ``abstain_below``;
2. unknown specifics: the question names something specific (an acronym, a model, a benchmark, a number)
   that the best paper's title and abstract never mention — the typical on-topic question the
   collection cannot answer ("How many GPUs was AsyncFlow evaluated on?").
"""

from __future__ import annotations

import re

from rag.config import Settings
from rag.text import content_terms, is_stopword, mentions, specific_terms, split_sentences


def missing_specifics(question: str, paper_text: str) -> list[str]:
    """Specific terms of the question that ``paper_text`` never mentions."""
    return [t for t in specific_terms(question) if not mentions(paper_text, t)]


_MEASURED = re.compile(
    r"\bhow many\s+(?P<count>[\w/-]+)(?:\s+(?P<count2>[\w/-]+))?"
    r"|\bwhat\s+(?:[\w-]+\s+){0,2}?(?P<measure>accuracy|score|rate)\b",
    re.IGNORECASE,
)


_NOT_COUNTED = {"times"}  # "how many times" asks how often, not for a count of things


def measured_things(question: str) -> list[str]:
    """What a quantity question counts or measures: "How many GPUs…" -> GPUs; "What accuracy…" -> accuracy."""
    things = []
    for match in _MEASURED.finditer(question):
        if match.group("measure"):
            things.append(match.group("measure"))
            continue
        words = [match.group("count")] + [w for w in (match.group("count2"),) if w and not is_stopword(w)]
        if is_stopword(words[0]) or words[0].casefold() in _NOT_COUNTED or not content_terms(words[0]):
            continue  # "how many of its …", "how many did …": no noun to check
        if len(words) > 1 and content_terms(words[1]):
            words = words[1:]  # "human annotators" -> the head noun
        things.append(words[0])
    return things


def unmeasured(question: str, abstract: str) -> list[str]:
    """Measured things that no sentence with a number in ``abstract`` mentions."""
    numeric = [content_terms(s) for s in split_sentences(abstract) if any(ch.isdigit() for ch in s)]
    return [t for t in measured_things(question) if not any(content_terms(t) & terms for terms in numeric)]


def abstain_reason(
    top_relevance: float | None, question: str, evidence_text: str, settings: Settings, single_paper: bool = False
) -> str | None:
    """Why to abstain, or None to answer. ``evidence_text``: titles and abstracts of the papers to cite."""
    if top_relevance is None:
        return "nothing is indexed"
    if top_relevance < settings.abstain_below:
        return f"best relevance {top_relevance:.2f} is below {settings.abstain_below:.2f}"
    missing = missing_specifics(question, evidence_text)
    if missing:
        return "the abstracts never mention " + ", ".join(repr(m) for m in dict.fromkeys(missing))
    if single_paper:
        unmet = unmeasured(question, evidence_text)
        if unmet:
            return "the closest abstract gives no figure for " + ", ".join(repr(m) for m in unmet)
    return None
