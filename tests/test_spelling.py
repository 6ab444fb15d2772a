"""Misspelt question words are corrected against the indexed collection, and names and English words are not."""

from __future__ import annotations

import pytest

from rag.spelling import american, correct_spelling, correction, is_english, one_edit_away, read_as


@pytest.fixture(scope="module")
def frequency(bundled_assistant):
    index = bundled_assistant.retriever.keyword_index()
    assert index is not None
    return index.document_frequency


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("papes", "papers"),
        ("acuracy", "accuracy"),
        ("retreiving", "retrieving"),
        ("theroy", "theory"),
        ("menaing", "meaning"),  # a vocabulary word beats an inflected non-word ("metaing")
        ("modles", "models"),
    ],
)
def test_a_misspelt_word_becomes_the_collection_word(frequency, typed: str, meant: str) -> None:
    assert correction(typed, frequency) == meant


def test_british_spelling_becomes_the_collections_american_one(frequency) -> None:
    assert american("optimisation") == {"optimization"}
    assert correction("verbalised", frequency) == "verbalized"


@pytest.mark.parametrize("word", ["letter", "things", "helper", "fixes", "bakes", "retraining", "coarser"])
def test_english_words_the_collection_lacks_are_left_alone(frequency, word: str) -> None:
    assert is_english(word)
    assert correction(word, frequency) is None


@pytest.mark.parametrize("word", ["quantization", "alphafold", "crypto", "sourdough"])
def test_unknown_terms_with_no_close_collection_word_are_left_alone(frequency, word: str) -> None:
    assert correction(word, frequency) is None


def test_names_and_words_with_digits_are_never_corrected(frequency) -> None:
    question = "Does HumanEval or Papes or aime24 appear in papes?"
    assert correct_spelling(question, frequency) == "Does HumanEval or Papes or aime24 appear in papers?"


def test_one_edit_covers_each_kind_of_slip() -> None:
    near = one_edit_away("papes")
    assert {"papers", "pape", "apes", "paeps"} <= near  # inserted, dropped, (changed), swapped
    assert "papes" not in near


def test_a_misspelt_question_is_answered_like_the_correct_one(bundled_assistant) -> None:
    right = bundled_assistant.ask("which papers train on distilled reasoning traces")
    typed = bundled_assistant.ask("which papes train on distilled reasoning traces")
    assert typed.question == "which papes train on distilled reasoning traces"  # shown as asked
    assert [c.title for c in typed.citations] == [c.title for c in right.citations]
    assert len(typed.citations) > 1  # read as a list question, as "papers" makes it
    assert "Read 'papes' as 'papers'." in (typed.notice or "")
    assert "Read" not in (right.notice or "")


def test_the_note_names_each_corrected_word() -> None:
    note = read_as("which papes on acuracy", "which papers on accuracy")
    assert note == "Read 'papes' as 'papers', 'acuracy' as 'accuracy'."
    assert read_as("which papers", "which papers") is None


def test_a_word_the_collection_uses_rarely_is_not_a_target(frequency) -> None:
    """ "lamda" (the model) is one edit from "lambda", which two entries use: left for the abstention check."""
    assert 0 < frequency("lambda") < 3
    assert correction("lamda", frequency) is None


def test_a_very_long_word_is_left_alone_at_once(frequency) -> None:
    assert correction("x" * 5000, frequency) is None
    assert correct_spelling("what is " + "y" * 5000, frequency) == "what is " + "y" * 5000
