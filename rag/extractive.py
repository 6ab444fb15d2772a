"""The offline answerer: quotes the sentences of the retrieved abstracts that answer the question.

No model is needed. Every answer sentence is a quoted evidence sentence followed by its ``[n]``;
list questions list every paper above the relevance thresholds; when nothing is relevant enough it
abstains and names the closest papers as possibly related.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from rag.abstain import abstain_reason, mentions, missing_specifics
from rag.answer import Answer, Citation, full_text, question_shape
from rag.config import Settings
from rag.retrieve import PaperHit, Retrieval

PaperTexts = Callable[[list[PaperHit]], dict[str, str]]  # paper id -> "title\nabstract"
NOTICE = "Extractive answer (offline, no LLM configured): sentences quoted from the abstracts."
ABSTAIN_TEXT = "The abstracts in this collection don't answer this question."
MAX_LIST = 12
# Sentence choice weighs lexical overlap with the question against the similarity of the retrieved chunk
# holding the sentence: facts are found by their words, list membership by meaning.
OVERLAP_WEIGHT = {"single": 2.0, "comparison": 2.0, "list": 0.25}
SENTENCES_PER_PAPER = {"single": 4, "comparison": 2, "list": 1}
MAX_COMPARISON = 4
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)?%?")


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202 - PyStemmer has no type stubs
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | {
        "paper",
        "papers",
        "study",
        "studies",
        "work",
        "abstract",
        "say",
        "says",
        "show",
        "shows",
        "does",
        "do",
        "report",
        "reports",
        "propose",
        "proposes",
    }


def content_terms(text: str) -> set[str]:
    words = [w for w in _WORD.findall(text.casefold()) if w not in _stopwords() and len(w) > 1]
    return set(_stemmer().stemWords(words))


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


_QUANTITY = re.compile(
    r"\b(how (many|much|large|big|often|long)|what (\w+ ){0,2}(accuracy|rate|score|percentage|number|size|gain|"
    r"improvement|speed-?up|throughput|pass rate)|by how much|how \w+er)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d")


def asks_for_quantity(question: str) -> bool:
    return bool(_QUANTITY.search(question))


def best_sentences(
    question: str,
    question_terms: set[str],
    paper: PaperHit,
    abstract: str = "",
    limit: int = 1,
    overlap_weight: float = 1.0,
) -> list[str]:
    """The sentences of the paper's best chunks that share the most terms with the question.

    The chunk's similarity to the question is part of the score, so a paraphrased question still gets
    the semantically closest passage; questions asking for a quantity prefer sentences with numbers.
    """
    wants_number = asks_for_quantity(question)
    similarity = {}
    for chunk in paper.chunks:
        for sentence in split_sentences(chunk.text):
            similarity.setdefault(sentence, chunk.similarity)
    sentences = split_sentences(abstract) if abstract else list(similarity)
    scored: list[tuple[float, int, str]] = []
    for order, sentence in enumerate(sentences):
        terms = content_terms(sentence)
        overlap = len(question_terms & terms) / (len(question_terms) or 1)
        score = similarity.get(sentence, 0.0) + overlap_weight * overlap
        if wants_number and _NUMBER.search(sentence):
            score += 0.25
        scored.append((score, order, sentence))
    scored.sort(key=lambda item: (-item[0], item[1]))
    # Keep the quoted sentences in their order in the abstract.
    return [sentence for _, _, sentence in sorted(scored[:limit], key=lambda item: item[1])]


def list_score(paper: PaperHit, settings: Settings) -> float:
    """Relevance plus a share of the relative BM25 score: list questions often hinge on exact terms."""
    return paper.relevance + settings.list_keyword_weight * paper.keyword


def select_papers(retrieval: Retrieval, shape: str, settings: Settings) -> list[PaperHit]:
    papers = retrieval.papers
    top = papers[0].relevance
    if shape == "list":
        # Anchored on the second-best paper: a near-verbatim title match should not raise the bar for the rest.
        scores = sorted((list_score(p, settings) for p in papers), reverse=True)
        anchor = scores[1] if len(scores) > 1 else scores[0]
        floor = max(settings.list_min_relevance, anchor - settings.list_max_drop)
        chosen = [p for p in papers if list_score(p, settings) >= floor][:MAX_LIST]
    elif shape == "comparison":
        floor = max(settings.list_min_relevance, top - settings.compare_max_drop)
        chosen = [p for p in papers if p.relevance >= floor][:MAX_COMPARISON]
        chosen = chosen if len(chosen) >= 2 else papers[:2]
    else:
        chosen = papers[:1]
    return chosen or papers[:1]


@dataclass
class Plan:
    shape: str  # list, comparison or single
    papers: list[PaperHit]  # the papers to cite, best first
    texts: dict[str, str]  # paper id -> "title\nabstract"
    abstain_reason: str | None


def plan(retrieval: Retrieval, settings: Settings, paper_texts: PaperTexts) -> Plan:
    """The question's shape, the papers to cite, their texts, and the reason to abstain instead (or None)."""
    shape = question_shape(retrieval.question)
    if not retrieval.papers:
        return Plan(shape, [], {}, "nothing is indexed")
    papers = select_papers(retrieval, shape, settings)
    texts = paper_texts(papers)
    if shape == "comparison":
        # A paper the question names but the selection missed joins it, found by the name in its title.
        missing = missing_specifics(retrieval.question, "\n".join(texts.values()))
        named = [p for p in retrieval.papers if p not in papers and any(mentions(p.title, t) for t in missing)]
        if named:
            papers = papers + named[: max(1, MAX_COMPARISON - len(papers))]
            texts = paper_texts(papers)
    reason = abstain_reason(
        retrieval.papers[0].relevance,
        retrieval.question,
        "\n".join(texts.values()),
        settings,
        single_paper=shape == "single",
    )
    return Plan(shape, papers, texts, reason)


def extractive_answer(
    retrieval: Retrieval, settings: Settings, paper_texts: PaperTexts, notice: str | None = NOTICE
) -> Answer:
    question = retrieval.question
    retrieved = [p.title for p in retrieval.papers]
    planned = plan(retrieval, settings, paper_texts)
    if planned.abstain_reason:
        return abstention(retrieval, notice, planned.abstain_reason)
    shape, papers = planned.shape, planned.papers
    terms = content_terms(question)
    citations: list[Citation] = []
    lines: list[str] = []
    for n, paper in enumerate(papers, start=1):
        abstract = planned.texts.get(paper.paper_id, "").partition("\n")[2]
        sentences = best_sentences(
            question, terms, paper, abstract, limit=SENTENCES_PER_PAPER[shape], overlap_weight=OVERLAP_WEIGHT[shape]
        )
        evidence = " ".join(sentences)
        citations.append(
            Citation(n, paper.paper_id, paper.title, evidence, paper.url, round(paper.relevance, 4), abstract)
        )
        if shape == "single":
            lines.extend(f"{s} [{n}]" for s in sentences)
        else:
            lines.append(f"- {paper.title}: {evidence} [{n}]")
    if shape == "single":
        body = " ".join(lines)
    else:
        intro = (
            f"{len(papers)} paper{'s' if len(papers) != 1 else ''} in this collection "
            f"{'address' if len(papers) != 1 else 'addresses'} this:"
        )
        body = intro + "\n" + "\n".join(lines)
    low = papers[0].relevance < settings.list_min_relevance
    if low:
        body = "Low relevance: the closest passages only partly match the question.\n" + body
    return Answer(
        question=question,
        text=full_text(body, citations),
        citations=citations,
        retrieved=retrieved,
        abstained=False,
        mode="extractive",
        latency_ms=0.0,
        body=body,
        notice=notice,
        low_relevance=low,
    )


def abstention(retrieval: Retrieval, notice: str | None, reason: str = "") -> Answer:
    related = [p.title for p in retrieval.papers[:3]]
    body = ABSTAIN_TEXT + (f" ({reason}.)" if reason else "")
    if related:
        body += "\nPossibly related:\n" + "\n".join(f"- {t}" for t in related)
    return Answer(
        question=retrieval.question,
        text=body,
        citations=[],
        retrieved=[p.title for p in retrieval.papers],
        abstained=True,
        mode="extractive",
        latency_ms=0.0,
        body=body,
        notice=notice,
        related=related,
    )
