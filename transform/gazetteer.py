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
3. Keep a final `a` (Alexandra, Ivanova): the skeleton drops it, and with it the difference between
   a man and a woman of one family, or Niger and Nigeria. A word whose skeleton is shorter than
   MIN_SKELETON letters keeps its vowels (Baku, Nyon: "bk" and "n" would be anyone's).
4. A person's patronymic (Kemelevich, Kemeluly) goes when a first name and a surname remain: some
   texts name it, most do not.

The gazetteer (`transform/gazetteer.yaml`) lists entities by type, display name and aliases: the
spellings that do not fold to the same key (Astana and Nur-Sultan, Karaganda and Qaraghandy), the
names in Kazakh, and a surname alone where it names one person only (Tokayev). `Gazetteer.find`
matches its aliases in any text, a capitalised word at a time, on folded words, and lets a word carry
one of the Kazakh and Russian case endings of `ENDINGS` (Алматыда, Тоқаевтың): it is how Kazakh and
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
# Folded case endings a name may carry in Kazakh (genitive -ның/-тың, dative -ға/-қа, locative
# -да/-нда, ablative -дан, instrumental -мен/-пен, possessive -сы, -дағы "of, in") and in Russian
# (-ом, -ым after a consonant; the vowels of the others are gone in the fold already).
ENDINGS = ("ng", "tng", "dng", "g", "k", "n", "d", "t", "nd", "dn", "tn", "mn", "bn", "pn", "s", "sn", "snd", "sng",
           "dg", "tg", "ndg", "m")  # fmt: skip
FINAL_A = "a"  # step 3: the final a a word keeps
ACRONYM = re.compile(r"[A-ZА-ЯЁӘҒҚҢӨҰҮҺІ]{2,6}\+?")
MIN_SKELETON = 3
MAX_INFLECTED_WORDS = 3  # the variants of each word multiply
MIN_STEM = 3  # folded letters a word must keep without its ending: "Ал" + "да" is no Алматы


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
    return skeleton + (FINAL_A if word.endswith("a") else "")


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

        `inflected`: `name` is as a Russian text has it, each word in any case, a final a dropped
        (Акорде, Акорду: Акорда) or an ending added."""
        words = folded_words(name)
        if not inflected or len(words) > MAX_INFLECTED_WORDS:
            return self.acronyms.get(name) or self.by_alias.get(tuple(words))
        variants = [[word, *([word + FINAL_A] if not word.endswith(FINAL_A) else []), *_stems(word)[1:]] for word in words]
        return next((self.by_alias[alias] for alias in itertools.product(*variants) if alias in self.by_alias), None)

    def ignores(self, name: str) -> bool:
        """Whether `name` is one of the names the models find that name no entity (Kazakh, Akimat)."""
        return tuple(folded_words(name)) in self.ignored

    def find(self, text: str) -> Iterator[Match]:
        """Every alias in `text`: the longest from each capitalised word, the words of a match skipped."""
        words = [(match, folded_words(match[0])) for match in WORD.finditer(text)]
        index = 0
        while index < len(words):
            word = words[index][0][0]
            found = (self._longest(words, index) or _once(self.acronyms.get(word))) if word[0].isupper() else None
            if found is None:
                index += 1
                continue
            known, length = found
            yield Match(known, words[index][0].start(), words[index + length - 1][0].end())
            index += length

    def _longest(self, words: list[tuple[re.Match[str], list[str]]], index: int) -> tuple[Known, int] | None:
        first = words[index][1]
        if len(first) != 1:  # a word anyascii splits (an apostrophe, digits and letters): no name of the list
            return None
        for stem in _stems(first[0]):
            for length in sorted(self.by_first_word.get(stem, ()), reverse=True):
                following = words[index + 1 : index + length]
                if len(following) != length - 1 or any(len(folded) != 1 for _, folded in following):
                    continue
                known = self._alias_of(stem, [folded[0] for _, folded in following])
                if known:
                    return known, length
        return None

    def _alias_of(self, first: str, following: list[str]) -> Known | None:
        if not following:
            return self.by_alias.get((first,))
        *middle, last = following
        for stem in _stems(last):
            known = self.by_alias.get((first, *middle, stem))
            if known:
                return known
        return None


def _once(known: Known | None) -> tuple[Known, int] | None:
    return (known, 1) if known else None


def _stems(word: str) -> list[str]:
    """`word`, then what it may be without each ending it may carry (with and without a final a), longest first.

    A word is never its own stem without its final a: Nazarbayeva is not Nazarbayev."""
    base = word.removesuffix(FINAL_A) if len(word) > 1 else word
    stems = [base[: -len(ending)] for ending in ENDINGS if base.endswith(ending) and len(base) - len(ending) >= MIN_STEM]
    return [word, *(variant for stem in stems for variant in (stem, stem + FINAL_A))]


@cache
def gazetteer() -> Gazetteer:
    """The gazetteer of `transform/gazetteer.yaml`, read once per process."""
    data = yaml.safe_load(GAZETTEER.read_text(encoding="utf-8"))
    return Gazetteer([*data.get("curated", []), *data.get("seeded", [])], data.get("ignored", []))
