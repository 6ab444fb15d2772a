"""Acronyms the abstracts define, so "CoT" in a sentence counts for "chain-of-thought" in a question.

An abstract defines its acronyms the usual way, "chain-of-thought (CoT)", and then uses the short form.
Term coverage (``rag.evidence``) compares stems, so a question about "chain-of-thought" would not be covered
by the sentence "CoT reasoning degrades instruction following", nor "sft then rl" by "supervised fine-tuning
followed by reinforcement learning". The definitions are read from the retrieved papers' own text, never from
a fixed list: a long form is the run of words just before the parenthesis whose initials spell the acronym
(stop words such as "of" may be skipped, as in "Shifting Attention to more Relevant (SAR)").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from rag.text import acronym_letters, content_terms, is_stopword, latex_to_text

_DEFINED = re.compile(r"\(([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)\)")
_LOOK_BACK = 200  # characters before the parenthesis that can hold the long form
_WORD = re.compile(r"[A-Za-z0-9]+")
MAX_LETTERS = 8

Glossary = dict[frozenset[str], frozenset[str]]  # the acronym's stems -> its long form's stems


def _spells(words: list[str], letters: str) -> bool:
    """Whether the words' initials spell ``letters`` in order, each word used, stop words allowed to be skipped."""
    at = 0
    for word in words:
        if at < len(letters) and word[0].casefold() == letters[at]:
            at += 1
        elif not is_stopword(word):
            return False
    return at == len(letters)


@lru_cache(maxsize=4096)
def definitions(text: str) -> Glossary:
    """The acronyms ``text`` defines: ``{frozenset({"cot"}): frozenset({"chain", "thought"})}``. A plural one
    ("LLMs") is entered as written: its singular too was rejected on val (val5 which-papers F1 0.786 -> 0.769,
    "llm" then matched "large language models" in more near-topic papers; gold 0.712 -> 0.718)."""
    text = latex_to_text(text)
    found: Glossary = {}
    for match in _DEFINED.finditer(text):
        acronym = match.group(1)
        letters = acronym_letters(acronym)
        if sum(ch.isupper() for ch in acronym) < 2 or not 2 <= len(letters) <= MAX_LETTERS:
            continue
        before = _WORD.findall(text[max(0, match.start() - _LOOK_BACK) : match.start()])[-(len(letters) + 3) :]
        for start in range(len(before) - 1, -1, -1):
            run = before[start:]
            if run[0][0].casefold() == letters[0] and run[-1][0].casefold() == letters[-1] and _spells(run, letters):
                short, long = content_terms(acronym), content_terms(" ".join(run))
                if short and len(long - short) >= 2:  # "ID" for "in distribution" would stand for any "distribution"
                    found.setdefault(short, long)
                break
    return found


def glossary(texts: Iterable[str]) -> Glossary:
    """The acronyms any of ``texts`` defines; for one defined twice, the first text's definition (the papers
    come best ranked first)."""
    merged: Glossary = {}
    for text in texts:
        for short, long in definitions(text).items():
            merged.setdefault(short, long)
    return merged
