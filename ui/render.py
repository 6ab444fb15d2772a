"""Turn an ``Answer`` into what the UI shows: chat markdown, source cards, the mode badge.

Pure functions, no gradio. Every string that comes from the corpus, the user or the model is escaped
here, so it is rendered as text and never as HTML or JavaScript; the only markup is the markup we write.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlparse

from rag.answer import Answer, Citation, Mode, SentenceVerdict
from rag.config import Settings

# [1] · [1, 2] · [1][2] — the citation markers both answerers write.
MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_WORD = re.compile(r"[A-Za-z0-9]+")
# Markdown characters that would turn text into formatting, links or images.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")
_LINE_START_LIST = re.compile(r"^(\s*)(\d+)([.)])(\s)")
_LINE_START_MARK = re.compile(r"^(\s*)([#+=-])")
MAX_TURNS_KEPT = 20

TermMatcher = Callable[[str], bool]


# ---------------------------------------------------------------- escaping


def esc(text: object) -> str:
    """HTML-escape anything for use inside our HTML (text and attribute values)."""
    return html.escape("" if text is None else str(text), quote=True)


def md_text(text: str) -> str:
    """Text for a markdown message: no HTML, no links, no images, no emphasis — just the characters.

    Keeps ``- item`` lines as list items (the extractive answerer writes its lists that way).
    """
    out = []
    for line in text.split("\n"):
        bullet = ""
        match = re.match(r"^(\s*)- ", line)
        if match:
            bullet, line = "- ", line[match.end() :]
        escaped = _MD_SPECIAL.sub(r"\\\1", html.escape(line, quote=False))
        escaped = _LINE_START_LIST.sub(r"\1\2\\\3\4", escaped)
        escaped = _LINE_START_MARK.sub(r"\1\\\2", escaped)
        out.append(bullet + escaped)
    return "\n".join(out)


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are shown; ``javascript:`` and friends are dropped."""
    if not url:
        return None
    parsed = urlparse(url.strip())
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        return None
    return url.strip()


def anchor(turn: int, n: int) -> str:
    return f"src-{turn}-{n}"


# ---------------------------------------------------------------- the chat message


def link_markers(text: str, citations: Iterable[Citation], turn: int) -> str:
    """Escape ``text`` for markdown and turn each known ``[n]`` into a link to source card n."""
    known = {c.n for c in citations}
    parts: list[str] = []
    last = 0
    for match in MARKER.finditer(text):
        numbers = [int(x) for x in re.split(r"\s*,\s*", match.group(1))]
        if not all(n in known for n in numbers):
            continue  # not a citation marker we can resolve: leave it as text
        parts.append(md_text(text[last : match.start()]))
        parts.append("".join(f"[\\[{n}\\]](#{anchor(turn, n)})" for n in numbers))
        last = match.end()
    parts.append(md_text(text[last:]))
    return "".join(parts)


FLAG = "\u26a0 NOT SUPPORTED BY THE CITED ABSTRACTS"


def unsupported_verdicts(answer: Answer) -> list[SentenceVerdict]:
    """Sentences no cited source backs: citing sources that lack their claim, or citing nothing."""
    return [v for v in answer.sentences if not v.supported and v.sentence.strip()]


def _mark_unsupported(body: str, answer: Answer) -> str:
    """Put a visible flag after every unsupported sentence (replacing the checker's bare ⚠)."""
    for verdict in unsupported_verdicts(answer):
        sentence = verdict.sentence.strip()
        position = body.find(sentence)
        if position < 0:
            continue
        end = position + len(sentence)
        rest = body[end:]
        if rest.lstrip(" ").startswith("\u26a0"):
            rest = rest.lstrip(" ")[1:]
        body = f"{body[:end]} {FLAG}{rest}"
    return body


def chat_markdown(answer: Answer, turn: int, asked: str | None = None) -> str:
    """The assistant's chat message: the answer body with clickable ``[n]`` markers."""
    body = answer.body or answer.text
    lines: list[str] = []
    rewritten = (answer.rewritten_question or "").strip()
    if rewritten and rewritten.casefold() != (asked or answer.question).strip().casefold():
        lines.append(f"_Searched for:_ \u201c{md_text(rewritten)}\u201d")
    if answer.abstained:
        lines.append("**No answer found in the indexed abstracts.**")
    elif answer.low_relevance:
        lines.append("**Low relevance:** the closest passages only partly match the question; check the sources.")
    rendered = link_markers(_mark_unsupported(body, answer), answer.citations, turn)
    rendered = rendered.replace(FLAG, "**\u26a0 not supported by the cited abstracts**")
    lines.append(rendered)
    return "\n\n".join(lines)


def streaming_markdown(partial: str) -> str:
    return md_text(partial) + " \u258c"


# ---------------------------------------------------------------- source cards


def highlight(text: str, is_key_term: TermMatcher) -> str:
    """HTML-escape ``text`` and wrap the question's key terms in ``<mark>``."""
    out: list[str] = []
    last = 0
    for match in _WORD.finditer(text):
        if is_key_term(match.group()):
            out.append(esc(text[last : match.start()]))
            out.append(f"<mark>{esc(match.group())}</mark>")
            last = match.end()
    out.append(esc(text[last:]))
    return "".join(out)


def term_matcher(question: str) -> TermMatcher:
    """Matches words sharing a stem with the question's content words (stop words ignored)."""
    from rag.text import content_terms

    terms = content_terms(question)
    cache: dict[str, bool] = {}

    def matches(word: str) -> bool:
        key = word.casefold()
        if key not in cache:
            cache[key] = bool(terms & content_terms(key))
        return cache[key]

    return matches


@dataclass
class Turn:
    """One answered question, as the sources panel remembers it."""

    turn: int
    question: str
    answer: Answer


def _banner(kind: str, text: str) -> str:
    return f'<div class="rag-banner rag-banner-{kind}" role="status">{text}</div>'


def source_group(turn: Turn, active: bool) -> str:
    answer = turn.answer
    matcher = term_matcher(answer.searched_question or answer.rewritten_question or answer.question)
    parts = [
        f'<section class="rag-src-group{" rag-active-group" if active else ""}" data-turn="{turn.turn}">',
        f'<div class="rag-src-question">Sources for: \u201c{esc(turn.question)}\u201d</div>',
    ]
    if answer.abstained:
        related = "".join(f"<li>{esc(t)}</li>" for t in answer.related)
        parts.append(
            _banner(
                "abstain",
                "<strong>No answer:</strong> the indexed abstracts don't answer this question, "
                "so nothing is cited." + (f"<div>Possibly related:</div><ul>{related}</ul>" if related else ""),
            )
        )
    elif answer.low_relevance:
        parts.append(
            _banner(
                "low",
                "<strong>Low relevance:</strong> the best passages only partly match the question. "
                "Read the evidence before relying on this answer.",
            )
        )
    unsupported = unsupported_verdicts(answer)
    if unsupported:
        items = "".join(
            f"<li>{esc(v.sentence)}"
            + (f' <span class="rag-reason">({esc(v.reason)})</span>' if v.reason else "")
            + "</li>"
            for v in unsupported
        )
        count = len(unsupported)
        parts.append(
            _banner(
                "unsupported",
                f"<strong>{count} sentence{'s' if count != 1 else ''} not supported</strong> by the cited "
                f"abstracts:<ul>{items}</ul>",
            )
        )
    for citation in answer.citations:
        parts.append(source_card(turn.turn, citation, matcher))
    parts.append("</section>")
    return "".join(parts)


def source_card(turn: int, citation: Citation, matcher: TermMatcher) -> str:
    url = safe_url(citation.url)
    link = (
        f' · <a class="rag-src-link" href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">'
        f"{esc(urlparse(url).netloc)}</a>"
        if url
        else ""
    )
    score = f"{citation.relevance:.2f}"
    level = "high" if citation.relevance >= 0.55 else "mid" if citation.relevance >= 0.45 else "low"
    details = (
        f'<details class="rag-abstract"><summary>Full abstract</summary><p>{highlight(citation.abstract, matcher)}</p>'
        "</details>"
        if citation.abstract
        else ""
    )
    byline = f'<div class="rag-src-byline">{esc(citation.byline)}</div>' if citation.byline else ""
    return (
        f'<article class="rag-src-card" id="{anchor(turn, citation.n)}" data-n="{citation.n}">'
        f'<header><span class="rag-src-n">[{citation.n}]</span> '
        f'<span class="rag-src-title">{esc(citation.title)}</span>{byline}</header>'
        f'<blockquote class="rag-evidence">{highlight(citation.evidence, matcher)}</blockquote>'
        f'<div class="rag-src-meta"><span class="rag-score rag-score-{level}" '
        'title="relevance to the question">'
        f"relevance {score}</span>{link}</div>"
        f"{details}</article>"
    )


def sources_html(turns: list[Turn]) -> str:
    """Every remembered turn's cards; only the newest group is visible (a marker click reveals older ones)."""
    if not turns:
        return (
            '<div class="rag-sources rag-empty" id="rag-sources">'
            "<p>Ask a question: the papers an answer cites appear here, with the supporting passage "
            "highlighted. Click a [n] marker in the answer to jump to its source.</p></div>"
        )
    groups = [source_group(t, active=i == len(turns) - 1) for i, t in enumerate(turns)]
    return '<div class="rag-sources" id="rag-sources">' + "".join(reversed(groups)) + "</div>"


# ---------------------------------------------------------------- mode badge


def endpoint_host(settings: Settings) -> str:
    url = urlparse(settings.llm_base_url or "https://api.openai.com/v1")
    return url.netloc or url.path or "?"


def badge_html(settings: Settings, planned: Mode, answer: Answer | None = None) -> str:
    """Which answerer answered (or, before a question, will answer), and any notice from the LLM path.

    ``planned``: the mode the chosen answerer answers in; an answer in another mode is a fallback.
    """
    mode = answer.mode if answer else planned
    if mode == Mode.LLM:
        model = (answer.usage or {}).get("model") if answer else None
        label = f"LLM · {esc(model or settings.llm_model)} @ {esc(endpoint_host(settings))}"
    else:
        label = "extractive \u2014 offline"
    prefix = "Answered by" if answer else "Answerer"
    parts = [
        f'<div class="rag-badge-row"><span class="rag-badge rag-badge-{esc(mode)}" data-mode="{esc(mode)}">'
        f"{prefix}: {label}</span>"
    ]
    if answer:
        parts.append(f'<span class="rag-latency">{answer.latency_ms / 1000:.1f} s</span>')
    parts.append("</div>")
    if answer and answer.notice:
        kind = "fault" if answer.fault else "info"
        parts.append(f'<div class="rag-notice rag-notice-{kind}">{esc(answer.notice)}</div>')
    return '<div class="rag-badge-box">' + "".join(parts) + "</div>"
