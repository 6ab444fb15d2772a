"""The decision step of the pipeline: the answer's shape, the papers it cites, or abstention.

Runs after retrieval and before any answerer, so every answerer gets the same decision: a question the
collection cannot answer never reaches a model, and a "which papers" list has the same members whoever
writes it. Membership rests on each paper's own support for the question (``rag.evidence.support``), not
on its distance to another paper; why to abstain is ``rag.abstain``'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from rag.abstain import Evidence, abstain_reason, measured_things
from rag.acronyms import Glossary
from rag.config import Settings
from rag.evidence import QuestionTerms, Support, asks_for_quantity, defined_acronyms, question_terms, support
from rag.retrieve import PaperHit, Retrieval
from rag.text import mentions, named_terms, normalise
from rag.word_meaning import weigh_by_meaning

Shape = Literal["single", "list", "comparison"]

# A paper beyond the best one is cited when its support reaches this (fitted on the dev sets): a list
# takes every paper with some support, a comparison the ones clearly involved, a single answer only a
# paper as well supported as the best.
CITE_FROM: dict[Shape, float] = {"single": 0.5, "list": 0.05, "comparison": 0.2}
MOST_CITED: dict[Shape, int] = {"single": 3, "list": 12, "comparison": 4}

# What the question asks for, from how it is phrased: a comparison, several papers, or one paper or fact.
# "Which paper…" (singular) outranks comparison words inside a quoted description. "The one that…" does not:
# it describes one of the papers a comparison asks about ("compare LIMO and the one that fine-tuned…").
_ONE_PAPER = re.compile(r"\b(which|what) (paper|work|study|article|one)\b(?!s)", re.IGNORECASE)
_COMPARISON = re.compile(
    r"\b(compare[sd]?|comparison|comparing|contrast(ing|s)?|versus|vs\.?|differ(s|ence|ences|ent|ently)?|"
    r"similarit(y|ies)|both)\b",
    re.IGNORECASE,
)
# "Every paper…" and "all the papers…" ask for all of them, like "which papers…"; so does "anything here
# that…", unless it asks for a figure ("is there anything on what learning rate…" asks for one fact).
_SEVERAL_PAPERS = re.compile(
    r"\b(papers|works|studies|articles|ones|abstracts)\b|\blist\b"
    r"|\b(every|all)\s+(the\s+)?(paper|work|study|article)s?\b",
    re.IGNORECASE,
)
_ANYTHING = re.compile(r"\b(anything|everything)\b", re.IGNORECASE)
_FINDS_A_PAPER = re.compile(
    r"\b(which|what)\s+(papers?|works?|stud(y|ies)|articles?|methods?|approach(es)?)\b"
    r"|\b(find|identify|name)\s+the\s+(paper|work|study)\b|\bis there (a|any)\s+(paper|work|study|method)\b",
    re.IGNORECASE,
)


def question_shape(question: str) -> Shape:
    """``comparison`` (X vs Y), ``list`` (which papers…) or ``single`` (one paper, or a fact)."""
    one = bool(_ONE_PAPER.search(question))
    if _COMPARISON.search(question) and not one:
        return "comparison"
    if _SEVERAL_PAPERS.search(question) and not one:
        return "list"
    if _ANYTHING.search(question) and not one and not asks_for_quantity(question) and not measured_things(question):
        return "list"
    return "single"


# A second ask, after the one for the paper: a new clause or sentence opening with what/how/who.
_SECOND_ASK = re.compile(r"(?:[?.,;:]|\band\b|\s-)\s*(?:and\s+)?(?:what|how|who)\b", re.IGNORECASE)


def asks_more_than_which_paper(question: str) -> bool:
    """ "Which paper does X, and what does it find?": a fact is asked after the paper is."""
    found = _FINDS_A_PAPER.search(question)
    return found is not None and bool(_SECOND_ASK.search(question, found.end()))


def finds_papers(question: str, shape: Shape) -> bool:
    """The question asks *which* paper(s) rather than for a fact: a detail its answer does not name
    (a baseline in a description of the paper) is then no reason to abstain."""
    return shape == "list" or bool(_FINDS_A_PAPER.search(question))


class Collection(Protocol):
    """What the decision reads from the collection (``rag.retrieve.Retriever`` provides it)."""

    def hit_texts(self, papers: list[PaperHit]) -> dict[str, str]: ...

    def weigh(self, terms: set[str]) -> dict[str, float]: ...

    def uses(self, stem: str) -> bool: ...

    def near_words(self, question: str, papers: list[PaperHit]) -> Glossary: ...


def asked_terms(retrieval: Retrieval, collection: Collection) -> tuple[QuestionTerms, float]:
    """The question's weighted terms, matched through the acronyms the retrieved papers define and the
    nearest words of their abstracts; and the weighted share of them that no indexed text uses (a word read
    as a nearby one is not counted: it is plain wording, not a subject the collection lacks)."""
    near = collection.near_words(retrieval.question, retrieval.papers)
    terms = question_terms(retrieval.question, collection.weigh, {**defined_acronyms(retrieval.papers), **near})
    read_near = frozenset().union(*near)  # the question's stems read as another word
    # A word read as another weighs what that word does: "huge" read as "large" is no rare term.
    if near:
        idf = collection.weigh(set().union(*near.values()))
        weights = dict(terms.weights)
        for asked_stems, read_as in near.items():
            for stem in asked_stems & weights.keys():
                weights[stem] = min(idf.get(s, weights[stem]) for s in read_as)
        terms = replace(terms, weights=weights)
    return terms, terms.share(lambda term: not collection.uses(term) and term not in read_near)


@dataclass
class Plan:
    """What the answerers are asked to write: the question's shape and the papers to cite, or why not to."""

    retrieval: Retrieval
    shape: Shape
    terms: QuestionTerms
    supports: list[Support]  # every paper of the pool, best supported first
    papers: list[PaperHit]  # the papers to cite, best first
    texts: dict[str, str]  # paper id -> "title\nabstract"
    abstain_reason: str | None
    low_relevance: bool  # the best paper only partly matches the question
    evidence: Evidence | None = None  # what the abstention decision read (None when nothing is indexed)

    @property
    def question(self) -> str:
        return self.retrieval.question

    @property
    def ranked(self) -> list[PaperHit]:
        """The ranking shown with the answer: the k best supported papers."""
        return [s.paper for s in self.supports[: self.retrieval.k]]

    @property
    def wants_fact(self) -> bool:
        """The question asks for a fact about the papers, not which papers there are."""
        if self.evidence is None:
            return False
        return not self.evidence.finds_papers or (self.shape != "list" and asks_more_than_which_paper(self.question))

    def abstract(self, paper: PaperHit) -> str:
        return self.texts.get(paper.paper_id, "").partition("\n")[2] or paper.abstract


def named_papers(question: str, names: list[str], supports: list[Support]) -> list[PaperHit]:
    """The papers the question names: by their short title ("LIMO", "Mind Your Step (by Step)": the part of
    the title before a colon or a question mark, or a whole title of a few words), or by a name of the question
    that only their title contains."""
    asked = normalise(question)
    named = []
    for s in supports:
        short = re.split(r"[:?]", s.paper.title, maxsplit=1)[0]
        if len(short.split()) <= 10 and normalise(short) in asked:
            named.append(s.paper)
    for name in names:
        titles = [s.paper for s in supports if mentions(s.paper.title, name)]
        if len(titles) == 1 and titles[0] not in named:
            named.append(titles[0])
    return named


def cited(supports: list[Support], shape: Shape) -> list[PaperHit]:
    """The best supported paper, and every other whose support reaches the shape's bar."""
    chosen = supports[:1] + [s for s in supports[1:] if s.probability >= CITE_FROM[shape]]
    return [s.paper for s in chosen[: MOST_CITED[shape]]]


def plan(retrieval: Retrieval, settings: Settings, collection: Collection) -> Plan:
    """The question's shape, the papers to cite, their texts, and the reason to abstain instead (or None)."""
    question = retrieval.question
    shape = question_shape(question)
    terms, unknown = asked_terms(retrieval, collection)
    if not retrieval.papers:
        return Plan(retrieval, shape, terms, [], [], {}, "nothing is indexed", False)
    # Which papers to cite weighs each term by how much of the question's meaning its word carries as well as
    # by its rarity (rag.word_meaning); quoting and the abstention model's coverage features keep the rarity
    # weights (its support feature is the best paper's support, so it reads the meaning weights too).
    weighted = weigh_by_meaning(terms, retrieval)
    supports = sorted(support(weighted, retrieval.papers), key=lambda s: s.probability, reverse=True)
    names = named_terms(question, collection.uses)
    papers = cited(supports, shape)
    # Only a comparison takes the papers the question names. A single answer cites the best supported paper
    # even when the question seems to name another: the support already counts title matches, and on the dev
    # and val sets every such override was wrong ("MATH accuracy" is not the paper with "Math" in its title).
    if shape == "comparison":
        named = named_papers(question, names, supports)
        if len(named) >= 2:
            papers = named  # "Compare LIMO and DeepDistill": exactly the papers it names
        else:
            papers = (papers + [p for p in named if p not in papers])[: MOST_CITED[shape]]
    texts = collection.hit_texts(papers)
    evidence = Evidence(
        question,
        terms,
        names,
        "\n".join(texts.values()),
        top_relevance=retrieval.papers[0].relevance,
        cited_relevance=papers[0].relevance,
        top_support=supports[0].probability,
        facts_expected=shape == "single",
        finds_papers=finds_papers(question, shape),
        unknown_terms=unknown,
    )
    reason = abstain_reason(evidence, settings)
    low = papers[0].relevance < settings.low_relevance_below
    return Plan(retrieval, shape, terms, supports, papers, texts, reason, low, evidence)
