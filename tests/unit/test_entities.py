"""Entities: canonical keys across scripts and spellings, people kept apart, the three ways of finding
names (spaCy, natasha, the gazetteer), the contract's bounds, and the labelled set's format."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from tests.articles import SEED, article
from transform.contract import MAX_ENTITIES, Entity, NormalizedArticle
from transform.entities import clean, entities
from transform.gazetteer import Gazetteer, gazetteer, name_key

LABELS = Path(__file__).resolve().parents[2] / "bench" / "entity-labels.yaml"


def named(title: str, body: str, language: str | None) -> dict[str, set[tuple[str, str]]]:
    """The article's entities as {type: {(key, name)}}."""
    found: dict[str, set[tuple[str, str]]] = {"person": set(), "place": set(), "organization": set()}
    for entity in entities(title, body, language):
        found[entity.type].add((entity.key, entity.name))
    return found


# Canonical keys


def test_every_spelling_of_tokayev_has_one_key():
    spellings = [
        "Kassym-Jomart Tokayev",
        "Qasym-Jomart Toqayev",
        "Kassym-Jomart Tokaev",
        "Касым-Жомарт Токаев",
        "Қасым-Жомарт Тоқаев",
    ]
    assert {name_key("person", spelling) for spelling in spellings} == {"ksm-jmrt-tkv"}
    assert {name_key("person", surname) for surname in ["Tokayev", "Tokaev", "Toqayev", "Токаев", "Тоқаев"]} == {"tkv"}


def test_a_patronymic_is_left_out_of_a_key():
    assert name_key("person", "Касым-Жомарт Кемелевич Токаев") == name_key("person", "Kassym-Jomart Tokayev")
    assert name_key("person", "Қасым-Жомарт Кемелұлы Тоқаев") == name_key("person", "Kassym-Jomart Tokayev")


@pytest.mark.parametrize("spelling", ["Karaganda", "Qaraganda", "Qaraghandy", "Қарағанды", "Караганда"])
def test_every_spelling_of_karaganda_is_one_place(spelling):
    assert named("", f"The miners of {spelling} went on strike.", "en")["place"] == {("krgnda", "Karaganda")}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Alexander Ivanov", "Alexandra Ivanova"),  # a man and a woman of one family
        ("Nursultan Nazarbayev", "Dariga Nazarbayeva"),
        ("Kassym-Jomart Tokayev", "Marat Tokayev"),  # a surname shared
        ("Serdar Berdimuhamedov", "Gurbanguly Berdimuhamedov"),
        ("Richard von Weizsäcker", "Fritz Eckart von Weizsäcker"),
        ("Elizabeth A. Burton", "Victor N. Burton"),
    ],
)
def test_people_who_share_a_name_in_part_have_different_keys(one, other):
    assert name_key("person", one) != name_key("person", other)


@pytest.mark.parametrize(("one", "other"), [("Niger", "Nigeria"), ("German", "Germany"), ("Baku", "Bako")])
def test_names_that_differ_in_their_vowels_only_keep_apart(one, other):
    assert name_key("place", one) != name_key("place", other)


def test_a_surname_is_the_one_person_of_the_article_who_has_it():
    found = entities("", "Rafael Nadal beat Karen Khachanov on Tuesday in Madrid. Khachanov said he had played badly.", "en")
    people = [entity for entity in found if entity.type == "person"]
    assert sorted(entity.name for entity in people) == ["Karen Khachanov", "Rafael Nadal"]
    assert people[0].key == name_key("person", "Karen Khachanov")  # twice named: first


def test_a_surname_two_people_of_the_article_share_names_neither():
    body = "Maximo Gonzalez and Alejandro Gonzalez both won their matches on Monday. Gonzalez said the court was slow."
    assert named("", body, "en")["person"] == {
        (name_key("person", name), name) for name in ["Maximo Gonzalez", "Alejandro Gonzalez"]
    }


def test_the_gazetteer_gives_a_surname_alone_to_its_one_person():
    assert named("", "President Tokayev met the press in Astana on Monday.", "en")["person"] == {
        ("ksm-jmrt-tkv", "Kassym-Jomart Tokayev")
    }


# Finding names


def test_english_names_are_found_by_spacy_and_cleaned():
    body = (
        "Kazakhstan Temir Zholy said on Monday that Serik Akhmetov, its new chairman, would visit the port of Aktau. "
        "The ministry of transport of Kazakhstan approved the plan, the company said."
    )
    found = named("Railway Company Names Chairman", body, "en")
    assert ("srk-ahmtv", "Serik Akhmetov") in found["person"]
    assert {("akto", "Aktau"), ("kzhstn", "Kazakhstan")} <= found["place"]
    assert ("kzhstn-tmr-joli", "Kazakhstan Temir Zholy") in found["organization"]


def test_a_headline_is_not_read_by_the_model():
    found = named(
        "Smog Returns as Heating Season Begins", "A grey haze settled over the city on Monday, the third day in a row.", "en"
    )
    assert found == {"person": set(), "place": set(), "organization": set()}


def test_russian_names_are_found_by_natasha_in_the_nominative():
    body = (
        "Президент Касым-Жомарт Токаев встретился с Шавкатом Мирзиёевым в Ташкенте. "
        "Встреча прошла в Министерстве иностранных дел."
    )
    found = named("", body, "ru")
    assert found["person"] == {("ksm-jmrt-tkv", "Kassym-Jomart Tokayev"), ("shvkt-mrzv", "Shavkat Mirziyoyev")}
    assert found["place"] == {("tshknt", "Tashkent")}
    assert {name for _key, name in found["organization"]} == {"Министерство иностранных дел"}


def test_natashas_two_taggers_read_one_copy_of_the_embeddings_words():
    from transform.entities import _natasha

    taggers = _natasha()
    assert taggers["morph"].infer.encoder.words_vocab is taggers["ner"].infer.encoder.words_vocab


def test_kazakh_names_are_found_by_the_gazetteer_with_their_case_endings():
    body = "Мемлекет басшысы Қасым-Жомарт Тоқаевтың айтуынша, Алматыда және Қостанай облысында астық Қытайға жөнелтіледі."
    found = named("", body, "kk")
    assert found["person"] == {("ksm-jmrt-tkv", "Kassym-Jomart Tokayev")}
    assert found["place"] == {("almti", "Almaty"), ("kstni-rgn", "Kostanay Region"), ("chna", "China")}


def test_the_gazetteer_matches_acronyms_as_written_and_names_only_capitalised():
    found = named("", "WHO said who knows. The astana of the story is no city.", "xx")
    assert found["organization"] == {("vrld-hlth-orgnztn", "World Health Organization")} and found["place"] == set()


def test_a_place_called_a_region_is_the_region():
    found = named("", "Farmers in the Kostanay, Akmola and North Kazakhstan regions finished the harvest.", "en")
    assert {name for _key, name in found["place"]} == {"Kostanay Region", "Akmola Region", "North Kazakhstan"}


@pytest.mark.parametrize(
    ("name", "cleaned"),
    [
        ("the Syr Darya", "Syr Darya"),
        ("President Kassym-Jomart Tokayev", "Kassym-Jomart Tokayev"),
        ("Tokayev’s", "Tokayev"),
        ("Uzbekistan 6–4", ""),
        ("Kashagan Undergoes Maintenance\nKazakhstan’s", ""),
        ("Kazakhstan’s Constitution", ""),
        ("eGov", ""),
        ("A " + "Very " * 10 + "Long Name", ""),
    ],
)
def test_names_are_cleaned_and_what_is_no_name_dropped(name, cleaned):
    assert clean(name, "person") == cleaned


def test_an_article_names_at_most_the_contracts_bound():
    body = " ".join(f"{first} {last} spoke." for first in ["Aidar", "Bolat", "Chingiz", "Daniyar", "Erlan"] for last in NAMES)
    found = entities("", body, "en")
    assert len(found) <= MAX_ENTITIES and len({entity.key for entity in found}) == len(found)


NAMES = [f"Surname{letter}ov" for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]


# The gazetteer and the contract


def test_the_gazetteer_loads_and_refuses_an_alias_of_two_entities():
    assert gazetteer().lookup("Nur-Sultan").name == "Astana"
    with pytest.raises(ValueError, match="also one of"):
        Gazetteer([{"type": "place", "name": "Caspian Sea", "aliases": ["Kaspi"]}, {"type": "organization", "name": "Kaspi"}], [])


def test_an_entity_key_is_lower_case_words_joined_by_hyphens():
    Entity(type="person", key="ksm-jmrt-tkv", name="Kassym-Jomart Tokayev")
    for bad in ["KSM", "ksm jmrt", "-ksm", "ksm--tkv", ""]:
        with pytest.raises(ValidationError):
            Entity(type="person", key=bad, name="x")


def test_a_record_written_before_entities_reads_as_none():
    record = article(1, SEED).model_dump(mode="json")
    assert record["entities"]
    del record["entities"]
    assert NormalizedArticle.model_validate(record).entities == []


def test_the_labelled_set_marks_every_type_of_every_text():
    texts = yaml.safe_load(LABELS.read_text(encoding="utf-8"))["texts"]
    assert sum(text_id.startswith("benchmark/") for text_id in texts) >= 50
    for text_id, marked in texts.items():
        assert set(marked) == {"person", "place", "organization"}, text_id
        assert all(isinstance(item, str) and item.strip() for items in marked.values() for item in items), text_id


def test_the_seeded_section_is_what_the_corpus_gives_and_rewriting_it_keeps_the_rest(tmp_path):
    from newsflow.ops.gazetteer import seeded_entries, write
    from transform.gazetteer import GAZETTEER

    entries = seeded_entries()
    assert entries == yaml.safe_load(GAZETTEER.read_text(encoding="utf-8"))["seeded"]
    copy = tmp_path / "gazetteer.yaml"
    copy.write_text(GAZETTEER.read_text(encoding="utf-8"), encoding="utf-8")
    write([{"type": "place", "name": 'Köl "Say"'}], copy)
    written = yaml.safe_load(copy.read_text(encoding="utf-8"))
    assert written["seeded"] == [{"type": "place", "name": 'Köl "Say"'}]
    assert written["curated"] == yaml.safe_load(GAZETTEER.read_text(encoding="utf-8"))["curated"]
