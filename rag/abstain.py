"""When to say "the abstracts don't answer this" instead of answering.

The decision rests on the evidence the answer would cite, never on how the question is phrased alone:

* relevance: the first-ranked paper's similarity to the question (below ``abstain_below``, for it and for the
  best supported paper, the one the answer would cite first, the question is off-topic outright);
* support: how strongly the best paper supports the question (``rag.evidence.support``);
* coverage: the weighted share of the question's terms the cited titles and abstracts contain, after
  normalising case, hyphens, digit spacing, plurals and LaTeX;
* unknown terms: the weighted share of the question's terms that no text in the collection uses at all
  ("protein", "antibody" in a collection about language models);
* unknown names: something the question names (``GPQA``, ``Mamba``, ``GPT-4``: see ``rag.text.named_terms``)
  that the cited abstracts never mention, allowing acronyms ("LMs" for "language models"), and the share of
  the question's weight those names carry; a question asking *which paper* does something counts a missing
  name less, since descriptions of a paper often name a baseline its abstract leaves out; a figure the
  question gives ("about 600k questions") and the abstracts do not is weighed apart, and less: it is often
  the asker's recollection of the one they state; one within 10% of a figure they state ("~600k" for
  609,432, "2" for "two") counts as stated, a year or a size in billions only exactly (``rag.text.states_figure``);
* unmeasured quantities: a fact question asks how many or how much of something that no sentence with a
  figure in the cited abstracts mentions ("How many GPUs was AsyncFlow evaluated on?"); a rate is the one
  its first word names (a sentence giving a pass rate does not give a learning rate).

A logistic model over these features, fitted on the dev question sets (``eval/fit_weights.py
--abstention``; its threshold checked on the validation sets), gives the probability that the collection
cannot answer; the answer abstains at ``ABSTAIN_FROM``. The model was chosen over simpler rules (a name
missing from the cited abstracts means abstaining, tolerated in "which paper" questions above fixed
coverage and relevance floors) because it caught more unanswerable questions from writers it was not
fitted on at the same false-abstention rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.config import Settings
from rag.evidence import QuestionTerms, logistic
from rag.text import (
    acronym_of,
    content_terms,
    is_stopword,
    mentions,
    split_sentences,
    states_a_number,
    states_figure,
)

_MEASURED = re.compile(
    r"\bhow many\s+(?P<count>[\w/-]+)(?:\s+(?P<count2>[\w/-]+))?"
    r"|\bwhat\s+(?P<lead>(?:[\w-]+\s+){0,2}?)(?P<measure>accuracy|score|rate)\b",
    re.IGNORECASE,
)
_NOT_COUNTED = {"times"}  # "how many times" asks how often, not for a count of things


def measured_things(question: str) -> list[str]:
    """What a quantity question counts or measures: "How many GPUs…" -> GPUs; "What accuracy…" -> accuracy."""
    things = []
    for match in _MEASURED.finditer(question):
        if match.group("measure"):
            kind = (match.group("lead").split() or [""])[-1]
            # A rate is what its first word says it is: a learning rate is not a pass rate.
            named = match.group("measure") == "rate" and kind and not is_stopword(kind) and content_terms(kind)
            things.append(f"{kind} rate" if named else match.group("measure"))
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
    return [t for t in measured_things(question) if not any(content_terms(t) <= terms for terms in numeric)]


def missing_names(names: list[str], evidence_text: str) -> list[str]:
    """The names ``evidence_text`` never mentions, as written or as an acronym; a figure ("~600k") counts as
    mentioned when the text states one close to it (609,432)."""
    return [
        n
        for n in names
        if not mentions(evidence_text, n) and not acronym_of(evidence_text, n) and not states_figure(evidence_text, n)
    ]


@dataclass(frozen=True)
class Gaps:
    """What the cited abstracts lack for a question: names it uses, figures it asks for; and how much of the
    rest of the question they cover (the weighted share of its terms, the missing names' terms left out)."""

    missing: list[str]
    unmeasured: list[str]
    covered: float
    absent: frozenset[str]  # the terms of the missing names

    def __bool__(self) -> bool:
        return bool(self.missing or self.unmeasured)


def gaps(question: str, terms: QuestionTerms, names: list[str], evidence_text: str, facts_expected: bool) -> Gaps:
    missing = missing_names(names, evidence_text)
    unmet = unmeasured(question, evidence_text) if facts_expected else []
    absent = frozenset().union(*(content_terms(n) for n in missing))
    return Gaps(missing, unmet, terms.coverage(content_terms(evidence_text) - absent), absent)


# The probability that the collection cannot answer: logistic weights over ``abstention_features``, fitted
# by eval/fit_weights.py --abstention on the dev sets; the answer abstains from ABSTAIN_FROM on.
ABSTAIN_WEIGHTS = {
    "relevance": -4.56,
    "support": 0.2,
    "coverage": -0.26,
    "unknown_terms": 3.91,
    "missing_share": 4.99,
    "missing_name": 2.73,
    "missing_name_in_search": 0.15,
    "unmeasured": 5.28,
    "missing_figure": 1.49,
}
ABSTAIN_BIAS = -1.02
ABSTAIN_FROM = 0.5


@dataclass(frozen=True)
class Evidence:
    """What the abstention decision reads: the question, the cited texts and how well they match it."""

    question: str
    terms: QuestionTerms
    names: list[str]  # what the question names (``rag.text.named_terms``)
    text: str  # titles and abstracts of the papers to cite
    top_relevance: float
    cited_relevance: float  # the best supported paper's, which the answer cites first
    top_support: float
    facts_expected: bool  # a fact question, not a request for papers
    finds_papers: bool  # asks *which* paper(s)
    unknown_terms: float  # weighted share of the question's terms no text in the collection uses

    @property
    def floor_relevance(self) -> float:
        """What the relevance floor reads: the better of the first-ranked and the first-cited paper's."""
        return max(self.top_relevance, self.cited_relevance)


def abstention_features(evidence: Evidence) -> tuple[dict[str, float], Gaps]:
    found = gaps(evidence.question, evidence.terms, evidence.names, evidence.text, evidence.facts_expected)
    # A figure the question gives ("about 600k questions", "1k") is often the asker's recollection of the one
    # the abstract states (609,432): it is weighed apart from a missing name ("GSM8K", "Mamba").
    figures = [m for m in found.missing if m[:1].isdigit()]
    missing = float(any(m not in figures for m in found.missing))  # a name, not only figures
    features = {
        "missing_share": evidence.terms.share(found.absent.__contains__),
        "relevance": evidence.top_relevance,
        "support": evidence.top_support,
        "coverage": found.covered,
        "unknown_terms": evidence.unknown_terms,
        "missing_name": missing * (not evidence.finds_papers),
        "missing_name_in_search": missing * evidence.finds_papers,
        "unmeasured": float(bool(found.unmeasured)),
        "missing_figure": float(bool(figures)),
    }
    return features, found


def unanswerable_probability(
    features: dict[str, float], weights: dict[str, float] = ABSTAIN_WEIGHTS, bias: float = ABSTAIN_BIAS
) -> float:
    """The model's probability that the collection cannot answer (other weights: the fitting script's)."""
    return logistic(features, weights, bias)


def abstain_reason(evidence: Evidence, settings: Settings) -> str | None:
    """Why to abstain, or None to answer."""
    if evidence.floor_relevance < settings.abstain_below:
        return f"best relevance {evidence.floor_relevance:.2f} is below {settings.abstain_below:.2f}"
    features, found = abstention_features(evidence)
    probability = unanswerable_probability(features)
    if probability < ABSTAIN_FROM:
        return None
    if found.missing:
        return "the abstracts never mention " + ", ".join(repr(m) for m in found.missing)
    if found.unmeasured:
        return "the closest abstract gives no figure for " + ", ".join(repr(m) for m in found.unmeasured)
    if features["unknown_terms"] >= 0.25:
        return f"{features['unknown_terms']:.0%} of the question is in words no abstract here uses"
    return f"the closest abstracts cover only {found.covered:.0%} of the question"
