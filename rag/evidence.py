"""The evidence: how strongly each retrieved paper supports a question, and which of its sentences to quote.

Everything here is measured on the papers' own text, never on the wording of the question alone:

* a question's terms are weighted by how rare they are in the collection (BM25's IDF), so "survey" or
  "GPQA" count for more than "model" or "paper";
* a sentence's *coverage* is the weighted share of the question's terms it contains, after normalising
  case, hyphens, digit spacing, plurals and LaTeX (``rag.text.content_terms``), an acronym the retrieved
  papers define counting for its long form and back ("CoT" for "chain of thought": ``rag.acronyms``), and a
  plain question word no indexed text uses for the nearest word the papers do use ("town" for "city":
  ``rag.neighbours``);
* a paper's *support* for the question combines its best sentence's coverage, its title's coverage, its
  keyword score and how far its similarity and coverage fall behind the best paper's, through weights
  fitted on the dev question sets (``eval/fit_weights.py``; checked on held-out sets);
* the quoted sentences are chosen greedily: the best sentence first, then each further sentence only if it
  covers question terms the earlier ones did not (so a two-part question gets both facts, a one-fact
  question one sentence).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace

from rag.acronyms import Glossary, glossary
from rag.retrieve import PaperHit, focus_query
from rag.text import content_terms, split_sentences, states_a_number

Weigh = Callable[[set[str]], dict[str, float]]  # stems -> IDF in the collection

# Paper support: logistic weights over its best sentence's coverage, its title's coverage, its relative
# keyword score, its fused rank, and its similarity and coverage gaps to the best paper of the pool.
# Fitted by eval/fit_weights.py on the dev sets.
SUPPORT_WEIGHTS = {
    "sentence": 4.339,
    "title": 2.851,
    "keyword": 4.391,
    "rank": 2.587,
    "similarity_gap": -3.616,
    "coverage_gap": -2.963,
}
SUPPORT_BIAS = -6.212
# Quoting: a sentence's score is its chunk's similarity plus QUOTE_COVERAGE x the share of question terms it
# newly covers (plus QUOTE_NUMBER when the question asks for a quantity and the sentence states one);
# after the first, similarity counts QUOTE_LATER_SIMILARITY as much and a sentence must newly cover at
# least QUOTE_MIN_GAIN of the question. Fitted on ACLSum train (evidence F1) and dev (fact recall).
QUOTE_COVERAGE = 2.0
QUOTE_NUMBER = 0.15
QUOTE_LATER_SIMILARITY = 0.5
QUOTE_MIN_GAIN = 0.05
# A fact question's answer often follows the sentence that sets it up ("We finetune on distances to an
# unknown city. ... the model names the city: Paris"): the sentence right after a chosen one, when it states a
# figure or a name the question does not use, scores QUOTE_FOLLOW more and needs no new question terms.
# Chosen on dev and val (fact recall) with ACLSum evidence F1 unchanged, since it is off for "which paper" questions.
QUOTE_FOLLOW = 0.3


_QUANTITY = re.compile(
    r"\b(how (many|much|large|big|often|long)|what (\w+ ){0,2}(accuracy|rate|score|percentage|number|size|gain|"
    r"improvement|speed-?up|throughput|pass rate)|by how much|how \w+er)\b",
    re.IGNORECASE,
)


def asks_for_quantity(question: str) -> bool:
    return bool(_QUANTITY.search(question))


@dataclass(frozen=True)
class QuestionTerms:
    """A question's content terms (stems) and their weights: rarer in the collection, heavier."""

    question: str
    weights: dict[str, float]
    # Pairs of stems that stand for each other, one side in the question: acronyms the retrieved papers define
    # (``rag.acronyms``) and plain question words read as the papers' nearest word (``rag.neighbours``)
    glossary: Glossary = field(default_factory=dict)

    @property
    def terms(self) -> set[str]:
        return set(self.weights)

    def covered_by(self, terms: AbstractSet[str]) -> set[str]:
        """The question's terms that ``terms`` contain, directly or through the glossary: a text saying "CoT"
        covers a question's "chain of thought", one saying "chain of thought" a question's "CoT"."""
        found = self.terms & terms
        for short, long in self.glossary.items():
            if short <= terms and long <= self.weights.keys():
                found |= long
            elif long <= terms and short <= self.weights.keys():
                found |= short
        return found

    def word_for_word(self) -> QuestionTerms:
        """The same terms, matched without the glossary (acronyms and near words alike; the weights stay).
        Quoting uses it: through an acronym, the sentence that defines it looked redundant beside one that uses
        it, and that sentence is often the one to quote (ACLSum val: 0.926 of answers quote a highlighted
        sentence this way, 0.917 with the glossary)."""
        return replace(self, glossary={})

    def coverage(self, terms: AbstractSet[str]) -> float:
        """The weighted share of the question's terms found in ``terms`` (``covered_by``)."""
        return self.share(self.covered_by(terms).__contains__)

    def share(self, where: Callable[[str], bool]) -> float:
        """The weighted share of the question's terms for which ``where(term)`` holds."""
        total = sum(self.weights.values())
        return sum(w for t, w in self.weights.items() if where(t)) / total if total else 0.0


def question_terms(question: str, weigh: Weigh | None, glossary: Glossary | None = None) -> QuestionTerms:
    """The question's terms and weights; ``glossary``: stems that stand for each other (only the pairs the
    question uses, in either form, are kept)."""
    terms = content_terms(focus_query(question))
    weights = weigh(terms) if weigh is not None else dict.fromkeys(terms, 1.0)
    used = {short: long for short, long in (glossary or {}).items() if short <= terms or long <= terms}
    return QuestionTerms(question, {t: weights.get(t, 1.0) for t in terms}, used)


def defined_acronyms(papers: Sequence[PaperHit]) -> Glossary:
    """The acronyms the papers' titles and abstracts define."""
    return glossary(f"{paper.title}. {paper.abstract}" for paper in papers)


@dataclass(frozen=True)
class Sentence:
    text: str
    similarity: float  # cosine similarity to the question of the chunk that holds it
    terms: frozenset[str]


def sentences(paper: PaperHit) -> list[Sentence]:
    """The paper's abstract, sentence by sentence, each with its chunk's similarity to the question."""
    similarity: dict[str, float] = {}
    for chunk in paper.chunks:
        for sentence in split_sentences(chunk.text):
            similarity.setdefault(sentence, chunk.similarity)
    texts = split_sentences(paper.abstract) if paper.abstract else list(similarity)
    found = []
    for text in texts:
        score = similarity.get(text)
        if score is None:  # split differently from its chunk: the chunk that contains it
            score = max((c.similarity for c in paper.chunks if text in c.text or c.text in text), default=0.0)
        found.append(Sentence(text, score, content_terms(text)))
    return found


@dataclass
class Support:
    """How strongly one paper supports the question, and the evidence features that say so."""

    paper: PaperHit
    probability: float  # that the paper belongs in the answer (fitted on dev sets)
    features: dict[str, float]


def logistic(features: dict[str, float], weights: dict[str, float], bias: float) -> float:
    """A fitted logistic model's probability: ``weights`` name the features they multiply."""
    value = bias + sum(weight * features[name] for name, weight in weights.items())
    return 1.0 / (1.0 + math.exp(-value))


def support_features(question: QuestionTerms, papers: Sequence[PaperHit]) -> list[dict[str, float]]:
    """What the support of each paper (in fused-rank order) is computed from."""
    rows = []
    for paper in papers:
        own = sentences(paper)
        title = question.coverage(content_terms(paper.title))
        best = max((question.coverage(s.terms) for s in own), default=0.0)
        whole = question.coverage(set().union(*(s.terms for s in own), content_terms(paper.title)))
        rows.append((paper, title, best, whole))
    top_similarity = max((p.relevance for p in papers), default=0.0)
    top_coverage = max((row[3] for row in rows), default=0.0)
    return [
        {
            "sentence": best,
            "title": title,
            "coverage": whole,
            "keyword": paper.keyword,
            "rank": 1.0 / (rank + 1),
            "similarity_gap": top_similarity - paper.relevance,
            "coverage_gap": top_coverage - whole,
        }
        for rank, (paper, title, best, whole) in enumerate(rows)
    ]


def support(question: QuestionTerms, papers: Sequence[PaperHit]) -> list[Support]:
    """Every paper's support for the question, in the order given (the fused ranking)."""
    result = []
    for paper, features in zip(papers, support_features(question, papers), strict=True):
        result.append(Support(paper, logistic(features, SUPPORT_WEIGHTS, SUPPORT_BIAS), features))
    return result


def states_a_fact(text: str, question: QuestionTerms) -> bool:
    """A figure, or a name the question does not use: what a "what/which" question's answer looks like."""
    if states_a_number(text):
        return True
    return any(
        w[:1].isupper() and not content_terms(w) <= question.terms for w in re.findall(r"(?<=\s)[A-Z][\w-]+", text)
    )


def choose_quotes(
    question: QuestionTerms, paper: PaperHit, limit: int, wants_number: bool = False, wants_fact: bool = True
) -> list[str]:
    """Up to ``limit`` sentences of the paper that answer the question, in the abstract's order.

    The first is the best-scoring sentence; each further one must newly cover part of the question, or, when
    ``wants_fact``, follow a chosen sentence and state a figure or a new name.
    """
    question = question.word_for_word()
    own = sentences(paper)
    chosen: list[int] = []
    covered: set[str] = set()
    for step in range(limit):
        best: tuple[float, int, float] | None = None
        for index, sentence in enumerate(own):
            if index in chosen:
                continue
            gain = question.coverage(sentence.terms - covered)
            number = wants_number and states_a_number(sentence.text)
            score = sentence.similarity * (1.0 if step == 0 else QUOTE_LATER_SIMILARITY) + QUOTE_COVERAGE * gain
            score += QUOTE_NUMBER if number else 0.0
            follows = wants_fact and step > 0 and index - 1 in chosen and states_a_fact(sentence.text, question)
            score += QUOTE_FOLLOW if follows else 0.0
            if best is None or score > best[0]:
                best = (score, index, gain + (QUOTE_MIN_GAIN if number or follows else 0.0))
        if best is None or (step > 0 and best[2] < QUOTE_MIN_GAIN):
            break
        chosen.append(best[1])
        covered |= own[best[1]].terms
    return [own[i].text for i in sorted(chosen)]
