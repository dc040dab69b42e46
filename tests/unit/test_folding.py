import pytest

from newsflow.folding import fold


@pytest.mark.parametrize(
    "variants",
    [
        ["Toqayev", "Tokayev", "Tokaev", "Токаев", "Тоқаев"],
        ["Qaraganda", "Karaganda", "Қарағанды", "Караганда"],
        ["Qasym-Jomart", "Kassym-Jomart", "Қасым-Жомарт", "Касым-Жомарт"],
        ["Aqorda", "Akorda", "Ақорда", "Акорда"],
        ["Almaty", "Алматы"],
    ],
)
def test_spellings_of_one_name_fold_to_the_same_tokens(variants):
    assert len({fold(variant) for variant in variants}) == 1


def test_different_names_stay_apart():
    assert len({fold(name) for name in ["Toqayev", "Nazarbayev", "Astana", "Almaty", "Aqtobe"]}) == 5


def test_text_folds_word_by_word():
    assert fold("President Тоқаев, in Қарағанды!") == fold("president tokayev in karaganda")
    assert fold("") == ""
