"""Words in any script: the tokens of a text and how many words it holds.

Scripts written with spaces between words (Latin, Cyrillic, Arabic, Korean, …) count their `\\w+`
runs. Scripts written without them count characters: Chinese and Japanese (Han, kana), Thai, Lao,
Khmer and Myanmar. A run of such characters is one `\\w+` token however long it is — a 372-character
Japanese article would be 19 "words" — so each character is a token, and a word is
CHARS_PER_WORD[script] characters (the mean word lengths of those languages, rounded down: a
count that errs long, never short).

    >>> tokens("Токаев встретился 東京都")
    ['Токаев', 'встретился', '東', '京', '都']
    >>> word_count("東京都は13日、新しい計画を発表した。")
    9
"""

import math
import re

# The blocks of the scripts written without spaces, and the characters one of their words has on average.
UNSPACED_BLOCKS = {
    "cjk": "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f",  # kana, Han, half-width kana
    "southeast-asian": "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff",  # Thai, Lao, Myanmar, Khmer
}
CHARS_PER_WORD = {"cjk": 2, "southeast-asian": 4}  # Chinese 1.5-1.7, Japanese ~2; Thai ~4-5 code points
UNSPACED = "".join(UNSPACED_BLOCKS.values())
TOKEN = re.compile(rf"[{UNSPACED}]|[^\W{UNSPACED}]+")
SCRIPT_CHARS = {script: re.compile(f"[{block}]") for script, block in UNSPACED_BLOCKS.items()}


def tokens(text: str) -> list[str]:
    """The words of spaced scripts and the single characters of unspaced ones, in order."""
    return TOKEN.findall(text)


def word_count(text: str) -> int:
    """The words of `text`: `\\w+` runs of spaced scripts, and characters of unspaced ones divided by
    their script's CHARS_PER_WORD (rounded up: one character is a word)."""
    unspaced = {script: len(pattern.findall(text)) for script, pattern in SCRIPT_CHARS.items()}
    spaced = len(TOKEN.findall(text)) - sum(unspaced.values())
    return spaced + sum(math.ceil(count / CHARS_PER_WORD[script]) for script, count in unspaced.items())
