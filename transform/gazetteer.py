"""Canonical keys of names, and the gazetteer: known people, places and organisations found in any script.

An entity's key is its name folded word by word (`name_key`), so that one name written in Latin
or Cyrillic letters, in any of its romanizations, has one key:

    >>> name_key("person", "Qasym-Jomart Toqayev") == name_key("person", "Касым-Жомарт Токаев") == "ksm-jmrt-tkv"
    True
    >>> name_key("place", "Karaganda") == name_key("place", "Қарағанды")
    True

The steps of `name_key`:

1. Transliterate to ASCII (anyascii), lower-case; apostrophes (soft signs: Il'ya) go, `x` becomes `ks`
   (Alexander, Aleksandr).
2. Fold each word with `newsflow.folding.fold_word`: its first letter and its consonants, variants of
   the romanizations brought together (q → k, zh → j, ...).
3. Mark the class of a final vowel (`FINAL_VOWELS`: Alexandra, Ivanova, Germany): the skeleton
   drops it, and with it the difference between a man and a woman of one family, Niger and
   Nigeria, German and Germany. A word whose skeleton is shorter than MIN_SKELETON letters keeps
   its vowels (Baku, Nyon: "bk" and "n" would be anyone's).
4. A person's patronymic (Kemelevich, Kemeluly) goes when a first name and a surname remain: some
   texts name it, most do not.

The gazetteer (`transform/gazetteer.yaml`) lists entities by type, display name and aliases: the
spellings that do not fold to the same key (Astana and Nur-Sultan, Karaganda and Qaraghandy), the
names in Kazakh, and a surname alone where it names one person only (Tokayev). `Gazetteer.find`
matches its aliases in any text, a capitalised word at a time, on folded words, and lets an alias's
last word carry one of the Kazakh case endings of `KAZAKH_ENDINGS` (Алматыда, Тоқаевтың): it is how Kazakh and
every language without a model of its own get their entities. Its entries come from a curated list
and from the entities the models found in the demo corpus's English and Russian articles
(`python -m newsflow.ops.gazetteer` writes those, `seeded:` in the file).
"""

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import yaml
from anyascii import anyascii

from newsflow.folding import REPEATS, fold_variants, fold_word
from transform.contract import EntityType

GAZETTEER = files("transform").joinpath("gazetteer.yaml")

ASCII_WORD = re.compile(r"[a-z0-9]+")
WORD = re.compile(r"\w+(?:['’]\w+)*")  # a word of any script, with the apostrophes of Il'ya or O'Brien
PATRONYMIC = re.compile(r".{3,}(?:vich|vna|uly|kyzy|ovich|evich|ovna|evna)$")
ACRONYM = re.compile(r"[A-ZА-ЯЁӘҒҚҢӨҰҮҺІ]{2,6}\+?")
# Step 3: the class of a word's final vowel, which the skeleton drops: a; e; i and y, which
# romanizations swap (Dmitry, Dmitri; Kostanay, Kostanai); o and u.
FINAL_VOWELS = {"a": "a", "e": "e", "i": "i", "y": "i", "o": "o", "u": "o"}
MIN_SKELETON = 3
MAX_INFLECTED_WORDS = 3  # the forms of each word multiply
# Kazakh case endings, as written, that a name may carry: genitive -ның/-тың, dative -ға/-қа,
# locative -да/-нда, ablative -дан/-нан, accusative -ды/-ны, instrumental -мен/-пен, "of, in" -дағы,
# possessive -сы, plural -лар (Тоқаевтың, Алматыда, Қытайға, облысында).
KAZAKH_ENDINGS = tuple(
    f"{stem}{vowel}{end}"
    for stems, vowels, ends in (
        (("н", "д", "т"), ("ы", "і"), ("ң",)),
        (("ғ", "г", "қ", "к", "н"), ("а", "е"), ("",)),
        (("д", "т", "нд"), ("а", "е"), ("", "н", "ғы", "гі")),
        (("н", "д", "т"), ("ы", "і"), ("",)),
        (("м", "б", "п"), ("е",), ("н",)),
        (("с",), ("ы", "і"), ("",)),
        (("л", "д", "т"), ("а", "е"), ("р",)),
    )
    for stem in stems
    for vowel in vowels
    for end in ends
)
# Russian endings for `lookup(..., inflected=True)`, which also tries the stem with -а: Акорде, Акорду → Акорда.
RESTORED_ENDING = "а"
RUSSIAN_ENDINGS = ("ой", "ей", "ом", "ем", "ым", "им", "ою", "а", "я", "у", "ю", "е", "ы", "и")
MIN_STEM = 3  # letters a word keeps without its ending: "Ал" + "да" is no Алматы


def name_key(entity_type: EntityType, name: str) -> str:
    """The canonical key of `name` (steps 1-4 of the module's docstring); empty if it has no letters."""
    words = ASCII_WORD.findall(anyascii(name).lower().replace("'", "").replace("x", "ks"))
    if entity_type == "person" and len(words) > 2:
        words = [word for word in words if not PATRONYMIC.match(word)] or words
    return "-".join(_folded(word) for word in words)


def folded_words(text: str) -> list[str]:
    """The words of `text` folded as `name_key` folds them."""
    return [_folded(word) for word in ASCII_WORD.findall(anyascii(text).lower().replace("'", "").replace("x", "ks"))]


def _folded(word: str) -> str:
    skeleton = fold_word(word)
    if len(skeleton) < MIN_SKELETON:  # Nyon and Onay would be "n" and "on": short words keep their vowels
        return REPEATS.sub(r"\1", fold_variants(word).replace("y", "i"))
    return skeleton + FINAL_VOWELS.get(word[-1], "")


@dataclass(frozen=True)
class Known:
    """An entry of the gazetteer."""

    type: EntityType
    name: str  # the display name
    key: str


@dataclass(frozen=True)
class Match:
    known: Known
    start: int  # character offsets in the text
    end: int


class Gazetteer:
    """The entries, by their aliases' folded words."""

    def __init__(self, entries: list[dict], ignored: list[str]) -> None:
        self.by_alias: dict[tuple[str, ...], Known] = {}
        self.by_first_word: dict[str, set[int]] = {}  # first folded word -> lengths of aliases starting with it
        self.acronyms: dict[str, Known] = {}  # written in capitals, matched as written: WHO is no "Who"
        self.ignored = {tuple(folded_words(name)) for name in ignored}
        keys: dict[tuple[str, str], Known] = {}
        for entry in entries:
            known = Known(entry["type"], entry["name"], name_key(entry["type"], entry["name"]))
            if (known.type, known.key) in keys:
                raise ValueError(f"{GAZETTEER}: {known.name} has the key {known.key} of {keys[known.type, known.key].name}")
            keys[known.type, known.key] = known
            for alias in [entry["name"], *entry.get("aliases", [])]:
                words = tuple(folded_words(alias))
                earlier = (
                    self.acronyms.setdefault(alias, known) if ACRONYM.fullmatch(alias) else self.by_alias.setdefault(words, known)
                )
                if not words or earlier != known:
                    raise ValueError(f"{GAZETTEER}: the alias {alias!r} of {known.name} is no name or also one of {earlier.name}")
                if not ACRONYM.fullmatch(alias):
                    self.by_first_word.setdefault(words[0], set()).add(len(words))

    def lookup(self, name: str, inflected: bool = False) -> Known | None:
        """The entry one of whose aliases is `name` (in its folded words; an acronym as written).

        `inflected`: `name` is as a Russian text has it, each word in any case (Акорде: Акорда)."""
        exact = self.acronyms.get(name) or self.by_alias.get(tuple(folded_words(name)))
        words = WORD.findall(name)
        if exact or not inflected or len(words) > MAX_INFLECTED_WORDS:
            return exact
        forms = [_forms(word, RUSSIAN_ENDINGS, RESTORED_ENDING) for word in words]
        return next((self.by_alias[alias] for alias in itertools.product(*forms) if alias in self.by_alias), None)

    def ignores(self, name: str) -> bool:
        """Whether `name` is one of the names the models find that name no entity (Kazakh, Akimat)."""
        return tuple(folded_words(name)) in self.ignored

    def find(self, text: str) -> Iterator[Match]:
        """Every alias in `text`: the longest from each capitalised word, the words of a match skipped."""
        words = list(WORD.finditer(text))
        index = 0
        while index < len(words):
            word = words[index][0]
            found = (self._longest(words, index) or _once(self.acronyms.get(word))) if word[0].isupper() else None
            if found is None:
                index += 1
                continue
            known, length = found
            yield Match(known, words[index].start(), words[index + length - 1].end())
            index += length

    def _longest(self, words: list[re.Match[str]], index: int) -> tuple[Known, int] | None:
        """The entry of the longest alias at `words[index]`, and its length in words; the last word may carry an ending."""
        first = _forms(words[index][0], KAZAKH_ENDINGS)
        for length in sorted({length for form in first for length in self.by_first_word.get(form, ())}, reverse=True):
            if index + length > len(words):
                continue
            following = [folded_words(word[0]) for word in words[index + 1 : index + length - 1]]
            if any(len(folded) != 1 for folded in following):
                continue
            middle = tuple(folded[0] for folded in following)
            if length == 1:
                aliases: list[tuple[str, ...]] = [(head,) for head in first]
            else:
                aliases = [
                    (head, *middle, last) for head in first for last in _forms(words[index + length - 1][0], KAZAKH_ENDINGS)
                ]
            known = next((self.by_alias[alias] for alias in aliases if alias in self.by_alias), None)
            if known:
                return known, length
        return None


def _once(known: Known | None) -> tuple[Known, int] | None:
    return (known, 1) if known else None


def _forms(word: str, endings: tuple[str, ...], restore: str = "") -> list[str]:
    """The folded forms `word` may have as an alias's word: itself, itself without each of `endings`
    (keeping at least MIN_STEM letters), and each of these with `restore` added; none of a word that
    folds to several."""
    stems = [word[: -len(ending)] for ending in endings if word.lower().endswith(ending) and len(word) - len(ending) >= MIN_STEM]
    candidates = [word, *stems, *(stem + restore for stem in [word, *stems] if restore)]
    folded = [folded_words(candidate) for candidate in candidates]
    return list(dict.fromkeys(words[0] for words in folded if len(words) == 1))


@cache
def gazetteer() -> Gazetteer:
    """The gazetteer of `transform/gazetteer.yaml`, read once per process."""
    data = yaml.safe_load(GAZETTEER.read_text(encoding="utf-8"))
    return Gazetteer([*data.get("curated", []), *data.get("seeded", [])], data.get("ignored", []))
