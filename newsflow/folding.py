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
from functools import lru_cache

from anyascii import anyascii

WORD = re.compile(r"[a-z0-9]+")
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
INNER_VOWELS = re.compile(r"(?<=.)[aeiouy]")
REPEATS = re.compile(r"(.)\1+")


def fold(text: str) -> str:
    """The folded tokens of `text`, space-separated."""
    return " ".join(fold_word(word) for word in WORD.findall(anyascii(text).lower()))


@lru_cache(maxsize=1 << 16)  # words repeat: most of a page's words were folded before
def fold_word(word: str) -> str:
    return REPEATS.sub(r"\1", INNER_VOWELS.sub("", fold_variants(word)))


def fold_variants(word: str) -> str:
    """A lower-case ASCII word with the romanization variants brought together, its vowels kept."""
    for pattern, replacement in VARIANTS:
        word = pattern.sub(replacement, word)
    return word
