"""When to say "the abstracts don't answer this" instead of answering.

Three checks, each on the evidence the answer would cite:
1. relevance: the best paper's similarity to the question is below ``abstain_below`` (off-topic);
2. unknown names: the question names something (``GPQA``, ``HumanEval``, ``Mamba``, ``GPT-4``: see
   ``rag.text.named_terms``) that the abstracts to cite never mention, after normalising case, hyphens,
   digit spacing, plurals and LaTeX, and allowing acronyms ("LMs" for "language models");
3. unmeasured quantities: a fact question asks how many or how much of something that no sentence with a
   figure (digits or words) in those abstracts mentions ("How many GPUs was AsyncFlow evaluated on?").

A question that asks *which paper* does something, and whose best papers match the rest of it well, is
answered even when a detail it names is missing: descriptions of a paper often name a baseline or a
dataset its abstract leaves out. The tolerance (coverage and relevance floors) is fitted on the dev sets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.config import Settings
from rag.evidence import QuestionTerms
from rag.text import acronym_of, content_terms, is_stopword, mentions, split_sentences, states_a_number

# "Which paper…" questions tolerate a missing name when the cited abstracts cover at least this weighted
# share of the question's other terms and the best paper is at least this similar (fitted on dev sets).
TOLERATE_COVERAGE = 0.3
TOLERATE_RELEVANCE = 0.5

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
    """Measured things that no sentence stating a figure in ``abstract`` mentions."""
    numeric = [content_terms(s) for s in split_sentences(abstract) if states_a_number(s)]
    return [t for t in measured_things(question) if not any(content_terms(t) & terms for terms in numeric)]


def missing_names(names: list[str], evidence_text: str) -> list[str]:
    return [n for n in names if not mentions(evidence_text, n) and not acronym_of(evidence_text, n)]


@dataclass(frozen=True)
class Gaps:
    """What the cited abstracts lack for a question: names it uses, figures it asks for; and how much of the
    rest of the question they cover (the weighted share of its terms, the missing names' terms left out)."""

    missing: list[str]
    unmeasured: list[str]
    covered: float

    def __bool__(self) -> bool:
        return bool(self.missing or self.unmeasured)


def gaps(question: str, terms: QuestionTerms, names: list[str], evidence_text: str, facts_expected: bool) -> Gaps:
    missing = missing_names(names, evidence_text)
    unmet = unmeasured(question, evidence_text) if facts_expected else []
    absent = set().union(*(content_terms(n) for n in missing)) if missing else set()
    return Gaps(missing, unmet, terms.coverage(content_terms(evidence_text) - absent))


def tolerated(found: Gaps, top_relevance: float, finds_papers: bool) -> bool:
    """A "which paper" question whose best papers match the rest of it well is answered despite the gap."""
    return finds_papers and found.covered >= TOLERATE_COVERAGE and top_relevance >= TOLERATE_RELEVANCE


def abstain_reason(
    question: str,
    terms: QuestionTerms,
    names: list[str],
    evidence_text: str,
    *,
    top_relevance: float,
    facts_expected: bool,
    finds_papers: bool,
    settings: Settings,
) -> str | None:
    """Why to abstain, or None to answer. ``evidence_text``: titles and abstracts of the papers to cite."""
    if top_relevance < settings.abstain_below:
        return f"best relevance {top_relevance:.2f} is below {settings.abstain_below:.2f}"
    found = gaps(question, terms, names, evidence_text, facts_expected)
    if not found or tolerated(found, top_relevance, finds_papers):
        return None
    if found.missing:
        return "the abstracts never mention " + ", ".join(repr(m) for m in found.missing)
    return "the closest abstract gives no figure for " + ", ".join(repr(m) for m in found.unmeasured)
