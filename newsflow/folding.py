"""Transliteration folding: spellings of one name in Cyrillic and in its Latin romanizations
fold to the same tokens, so a search for one finds the others.

    >>> fold("Toqayev Tokayev Tokaev Токаев Тоқаев")
    'tkv tkv tkv tkv tkv'
    >>> fold("Qaraganda Karaganda Қарағанды")
    'krgnd krgnd krgnd'

Steps, per word: transliterate to ASCII (anyascii: Тоқаев → Toqaev), lower-case, bring the
Kazakh and Russian romanization variants together (q → k, gh → g, zh → j, kh → h, w → v), then
keep the word's consonant skeleton: its first letter and its consonants, without vowels or y
(where the romanizations differ most: Tokayev / Tokaev, Qaraghandy / Karaganda), repeated
letters collapsed. The skeleton trades precision for recall, so search uses it beside the
exact text, never instead of it. The same function folds queries on the search side.
"""

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

WORD = re.compile(r"[a-z0-9]+")
# fold_word's steps in order, as (pattern, replacement): the romanization variants, then the
# consonant skeleton. search/index.py gives the same steps to Elasticsearch (STEPS).
VARIANTS = [
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"q", "k"),
        (r"gh", "g"),
        (r"zh", "j"),
        (r"kh", "h"),
        (r"w", "v"),
    )
]
INNER_VOWELS = re.compile(r"(?<=.)[aeiouy]")  # and y
REPEATS = re.compile(r"(.)\1+")
SKELETON = [(INNER_VOWELS, ""), (REPEATS, r"\1")]
STEPS = VARIANTS + SKELETON
# The blocks of the scripts newsflow's sources write in: Latin with diacritics (Latin-1 Supplement
# to Latin Extended-B, combining marks, Latin Extended Additional), Greek and Cyrillic.
SCRIPT_BLOCKS = [range(0x00C0, 0x0250), range(0x0300, 0x0370), range(0x0370, 0x0530), range(0x1E00, 0x1F00)]


def fold(text: str) -> str:
    """The folded tokens of `text`, space-separated."""
    return " ".join(fold_word(word) for word in WORD.findall(anyascii(text).lower()))


def transliterations() -> dict[str, str]:
    """What anyascii writes for each letter and mark of `SCRIPT_BLOCKS` it changes: fold's first step, as a table."""
    return {
        character: anyascii(character)
        for block in SCRIPT_BLOCKS
        for character in map(chr, block)
        if unicodedata.category(character)[0] in "LM" and anyascii(character) != character
    }


@lru_cache(maxsize=1 << 16)  # words repeat: most of a page's words were folded before
def fold_word(word: str) -> str:
    return fold_skeleton(fold_variants(word))


def fold_variants(word: str) -> str:
    """A lower-case ASCII word with the romanization variants brought together, its vowels kept."""
    for pattern, replacement in VARIANTS:
        word = pattern.sub(replacement, word)
    return word


def fold_skeleton(word: str) -> str:
    """The consonant skeleton of a word whose variants are brought together."""
    for pattern, replacement in SKELETON:
        word = pattern.sub(replacement, word)
    return word
