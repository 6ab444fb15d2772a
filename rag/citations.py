"""The citation check every answer passes through: parse ``[n]``, ``[n, m]``, ``[n-m]``; drop citations to
sources that don't exist; judge each cited sentence against the text of the sources it cites; then turn
the checked draft into the ``Answer`` (``checked_answer``).

A cited sentence is *unsupported* when a number it states, or a key term it names (an acronym, a model,
a benchmark: see ``rag.text.specific_terms``), does not appear in its cited sources, or when almost none
of its content words do. The check is lexical and deliberately simple: it catches invented numbers,
misattributed names and citations to the wrong paper; it does not judge paraphrases. A sentence citing
nothing is marked too ("uncited"), unless it is a heading or a bare question that names and states nothing
("Do they?"); one ending in "?" or "!" that leads into a cited sentence on its line (a title's first half:
"Can LLMs Learn by Teaching? A Preliminary Study: … [1]") is checked together with it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from rag.answer import ABSTAIN_TEXT, Answer, Citation, SentenceVerdict, full_text
from rag.answerers.base import Draft
from rag.decide import Plan
from rag.errors import AnswerFault
from rag.evidence import choose_quotes, question_terms
from rag.text import acronym_of, content_terms, mentions, specific_terms

UNSUPPORTED_MARK = "⚠"
MAX_RANGE = 50  # [1-1000] is not a citation list worth expanding
MIN_OVERLAP = 0.25  # share of a sentence's content words that must appear in its cited sources
MIN_TERMS_FOR_OVERLAP = 4

_NUM = r"\d{1,4}"
_ITEM = rf"{_NUM}(?:\s*[-–—]\s*{_NUM})?"
CITATION = re.compile(rf"(?P<pre>[ \t]*)\[\s*(?P<inner>{_ITEM}(?:\s*[,;]\s*{_ITEM})*)\s*\]")
_BOUNDARY = re.compile(  # after . ! ? and any citations written after it, before a capital
    r"(?<=[.!?])(?P<cites>(?:[ \t]*\[[\d\s,;\-–—]+\])*)" r"(?P<sep>[ \t]+)(?=[A-Z0-9(\"'“*_])"
)
_CLAIM_NUMBER = re.compile(r"(?<![\w.,])(\d+(?:,\d{3})*(?:\.\d+)?)(%|x|×)?(?!\w)")
_ANY_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+(?=[.,;:!?])")


def parse_numbers(inner: str) -> list[int]:
    """``"1, 3-5"`` -> ``[1, 3, 4, 5]`` (order kept, duplicates dropped)."""
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", inner.strip()):
        if not part:
            continue
        bounds = [int(x) for x in re.split(r"\s*[-–—]\s*", part) if x]
        if len(bounds) == 2:
            low, high = sorted(bounds)
            numbers.extend(range(low, high + 1) if high - low <= MAX_RANGE else (low, high))
        else:
            numbers.extend(bounds)
    return list(dict.fromkeys(numbers))


def citations_in(text: str) -> list[int]:
    """Every cited number in ``text``, in order of first appearance."""
    found: list[int] = []
    for match in CITATION.finditer(text):
        found.extend(parse_numbers(match.group("inner")))
    return list(dict.fromkeys(found))


def format_citation(numbers: list[int]) -> str:
    return "[" + ", ".join(str(n) for n in numbers) + "]"


def clean_citations(text: str, valid: Collection[int]) -> tuple[str, list[int]]:
    """Drop numbers not in ``valid`` (and brackets left empty); return the text and the dropped numbers."""
    removed: list[int] = []

    def replace(match: re.Match[str]) -> str:
        numbers = parse_numbers(match.group("inner"))
        keep = [n for n in numbers if n in valid]
        removed.extend(n for n in numbers if n not in valid)
        if not keep:
            return ""
        return match.group("pre") + format_citation(keep)

    cleaned = CITATION.sub(replace, text)
    if removed:
        cleaned = _SPACE_BEFORE_PUNCT.sub("", cleaned)
    return cleaned, list(dict.fromkeys(removed))


def split_segments(text: str) -> list[tuple[str, str]]:
    """The answer as (sentence, separator) pairs; ``"".join(s + sep)`` gives the text back.

    Lines (bullets) are split first, then sentences; a citation written after the full stop
    (``"... results. [2] Next"``) stays with the sentence before it.
    """
    segments: list[tuple[str, str]] = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        newline = line[len(body) :]
        start = 0
        for match in _BOUNDARY.finditer(body):
            segments.append((body[start : match.end("cites")], match.group("sep")))
            start = match.end()
        segments.append((body[start:], newline))
    return segments


def _numbers(text: str) -> set[float]:
    """Every number written in ``text``, also inside words ("AIME2024", "1.59x")."""
    return {float(match.replace(",", "")) for match in _ANY_NUMBER.findall(text)}


def claimed_numbers(claim: str) -> list[str]:
    """Numbers a sentence states that its source must contain (bare counts below 10 are not checked)."""
    found = []
    for match in _CLAIM_NUMBER.finditer(claim):
        number, unit = match.group(1), match.group(2)
        if not unit and "." not in number and int(number.replace(",", "")) < 10:
            continue
        found.append(number + (unit or ""))
    return list(dict.fromkeys(found))


def check_sentence(sentence: str, sources: Mapping[int, str]) -> SentenceVerdict:
    """Judge one answer sentence against the sources it cites (``sources``: number -> source text)."""
    numbers = [n for n in citations_in(sentence) if n in sources]
    text = sentence.strip()
    if not numbers:
        if text.endswith("?") and not claimed_numbers(text) and not specific_terms(text):
            return SentenceVerdict(text, [], True, "question")  # asks, names and states nothing: "Do they?"
        heading = text.endswith(":") or not content_terms(text)
        return SentenceVerdict(text, [], heading, "heading" if heading else "uncited")
    claim = CITATION.sub("", text)
    evidence = "\n".join(sources[n] for n in numbers)
    cited = format_citation(numbers)
    problems: list[str] = []
    evidence_numbers = _numbers(evidence)
    for number in claimed_numbers(claim):
        value = float(re.sub(r"[%x×,]", "", number))
        if value not in evidence_numbers:
            problems.append(f"{number!r} is not in {cited}")
    for term in dict.fromkeys(specific_terms(claim)):
        if _CLAIM_NUMBER.fullmatch(term) or not re.search(r"[a-zA-Z]", term):
            continue  # numbers ("1.59x", "55%") were checked above
        if not mentions(evidence, term) and not acronym_of(evidence, term):
            problems.append(f"{term!r} is not in {cited}")
    terms = {t for t in content_terms(claim) if not any(ch.isdigit() for ch in t)}
    if not problems and len(terms) >= MIN_TERMS_FOR_OVERLAP:
        shared = len(terms & content_terms(evidence)) / len(terms)
        if shared < MIN_OVERLAP:
            problems.append(f"few of its words appear in {cited}")
    return SentenceVerdict(text, numbers, not problems, "; ".join(problems))


@dataclass
class CheckResult:
    text: str  # invalid citations removed, unsupported sentences marked
    sentences: list[SentenceVerdict]
    removed: list[int]  # cited numbers that matched no source
    cited: list[int]  # valid numbers, in order of first citation
    unsupported: list[SentenceVerdict] = field(default_factory=list)


def _with_their_leads(segments: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A segment ending in "?" or "!" that cites nothing is checked together with the next one on its line when
    that one cites: it is the first half of a title ("- Can LLMs Learn by Teaching? A Preliminary Study: … [1]")
    or a question the next sentence answers, and its figures and names must be in that sentence's sources."""
    joined: list[tuple[str, str]] = []
    for sentence, separator in segments:
        if joined:
            lead, between = joined[-1]
            leads = lead.rstrip().endswith(("?", "!")) and not citations_in(lead) and "\n" not in between
            if leads and citations_in(sentence):
                joined[-1] = (lead + between + sentence, separator)
                continue
        joined.append((sentence, separator))
    return joined


def check_answer(text: str, sources: Mapping[int, str], mark: str = UNSUPPORTED_MARK) -> CheckResult:
    """Clean and check a model's answer against ``sources`` (number -> the text the model was given)."""
    cleaned, removed = clean_citations(text.strip(), sources.keys())
    verdicts: list[SentenceVerdict] = []
    parts: list[str] = []
    for sentence, separator in _with_their_leads(split_segments(cleaned)):
        if sentence.strip():
            verdict = check_sentence(sentence, sources)
            verdicts.append(verdict)
            if not verdict.supported and mark:  # a claim citing nothing is marked like an unbacked one
                sentence = f"{sentence.rstrip()} {mark}"
        parts.append(sentence + separator)
    unsupported = [v for v in verdicts if not v.supported]
    return CheckResult("".join(parts).strip(), verdicts, removed, citations_in(cleaned), unsupported)


# ---------------------------------------------------------------- from a checked draft to the Answer

_NO_ANSWER = re.compile(r"the abstracts (?:in this collection )?(?:don't|do not|cannot|can't) answer this question")


def _normal(text: str) -> str:
    return " ".join(text.replace("’", "'").casefold().split())


def _citations(check: CheckResult, draft: Draft, plan: Plan) -> list[Citation]:
    """A card for every cited source: the answerer's own quote, or the sentence best matching its claims."""
    by_n = {s.n: s for s in draft.sources}
    citations = []
    for n in check.cited:
        source = by_n[n]
        paper = source.paper
        quote = source.quote
        if quote is None:
            claims = " ".join(v.sentence for v in check.sentences if n in v.citations)
            quote = " ".join(choose_quotes(question_terms(claims, None), paper, limit=1))
            quote = quote or source.text.partition("\n")[2]
        abstract = paper.abstract or plan.abstract(paper)
        citations.append(
            Citation(
                n,
                paper.paper_id,
                paper.title,
                quote,
                paper.url,
                round(paper.relevance, 4),
                abstract,
                list(paper.authors),
                paper.year,
                paper.doi,
            )
        )
    return citations


def checked_answer(draft: Draft, plan: Plan) -> Answer:
    """Check ``draft``'s citations against its sources and build the ``Answer``.

    A reply that says the abstracts don't answer becomes an abstention (keeping any citations it made);
    a reply citing none of its sources raises ``AnswerFault``, so the pipeline shows the extractive answer.
    """
    sources = {s.n: s.text for s in draft.sources}
    check = check_answer(draft.text, sources)
    retrieved = [p.title for p in plan.ranked]
    if _NO_ANSWER.search(_normal(draft.text)):
        return _model_abstained(draft, plan, check, retrieved)
    if not check.cited:
        fault = AnswerFault(
            "uncited", f"The {draft.author}'s reply cited none of the {len(sources)} sources, so it is not shown."
        )
        fault.usage = draft.usage
        raise fault
    citations = _citations(check, draft, plan)
    notes = []
    if check.removed:
        cited = ", ".join(f"[{n}]" for n in check.removed)
        notes.append(f"Removed citation{'s' if len(check.removed) > 1 else ''} {cited}: no such source.")
    unbacked = [v for v in check.unsupported if v.citations]
    uncited = [v for v in check.unsupported if not v.citations]
    if unbacked:
        count = len(unbacked)
        notes.append(
            f"{count} sentence{'s' if count > 1 else ''} marked {UNSUPPORTED_MARK}: "
            "the cited source does not contain its numbers or key terms."
        )
    if uncited:
        count = len(uncited)
        notes.append(f"{count} sentence{'s' if count > 1 else ''} marked {UNSUPPORTED_MARK}: no source cited.")
    text = full_text(check.text, citations)
    if check.unsupported:
        text += f"\n{UNSUPPORTED_MARK} = not backed by a cited source (numbers or key terms missing, or nothing cited)."
    return Answer(
        question=plan.question,
        text=text,
        citations=citations,
        retrieved=retrieved,
        abstained=False,
        mode=draft.mode,
        latency_ms=0.0,
        body=check.text,
        notice=" ".join(notes) or None,
        low_relevance=plan.low_relevance,
        sentences=check.sentences,
        usage=draft.usage,
    )


def _model_abstained(draft: Draft, plan: Plan, check: CheckResult, retrieved: list[str]) -> Answer:
    related = retrieved[:3]
    citations = _citations(check, draft, plan) if check.cited else []
    if citations:
        body = check.text
    else:
        body = ABSTAIN_TEXT
        if related:
            body += "\nPossibly related:\n" + "\n".join(f"- {t}" for t in related)
    return Answer(
        question=plan.question,
        text=full_text(body, citations),
        citations=citations,
        retrieved=retrieved,
        abstained=True,
        mode=draft.mode,
        latency_ms=0.0,
        body=body,
        notice=f"The {draft.author} found no answer in the sources.",
        related=related,
        abstain_reason=f"the {draft.author} found no answer in the sources",
        sentences=check.sentences if citations else [],
        usage=draft.usage,
    )
