"""search.kazakh's light stemmer: a word's forms meet at one stem; the forms it cannot tell apart are pinned too."""

import pytest

from search.kazakh import replacement, russian_letters, stem


def stemmed(word: str) -> str:
    return stem(russian_letters(word.lower()))


@pytest.mark.parametrize(
    "forms",
    [
        "шахта шахтада шахтадағы шахталарын",  # locative, locative + relative, plural + possessive + accusative
        "бекет бекеті бекетке бекеттердің бекетінен бекеттері",
        "облыс облысы облысында облысындағы облысының облыстағы",
        "метро метроның",
        "кенші кеншілер",
        "Ташкент Ташкентке",
        "астық астықты",
        "жинау жинауды",  # у takes a voiced consonant's endings
        "Қостанай Қостанайда",
        "қала қаланың қалада қаланы",
        "Астана Астанада Астананың",  # -на is a case only after a possessive
        "жол жолдар жолы",
        "мектеп мектептердегі",
        "әкімдік әкімдігі әкімдігінің",  # к voiced to г before a vowel
        "шаруашылық шаруашылығы",
        "кітап кітабы",
    ],
)
def test_a_word_s_forms_meet_at_one_stem(forms):
    assert len({stemmed(form) for form in forms.split()}) == 1, {form: stemmed(form) for form in forms.split()}


def test_what_it_cannot_tell_apart_as_its_docstring_says():
    assert stemmed("шахтасында") != stemmed("шахта")  # шахтас + ы, not шахта + сы
    assert stemmed("жолда") != stemmed("жол")  # a short root keeps a short ending
    assert stemmed("Қарағанды") != stemmed("Қарағандыда")  # the name's own -ды is taken as an accusative


def test_a_stem_keeps_three_letters():
    assert stemmed("үйлер") == "уй"  # a plural leaves two
    assert all(len(stemmed(word)) >= 3 for word in ["шахта", "атқа", "суда", "теке"])


def test_each_filter_replaces_with_all_its_groups_in_java_s_notation():
    assert replacement("kazakh_case") == "$1$2" and replacement("kazakh_plural") == "$1"
    assert replacement("kazakh_final_g") == "$1к"
