"""A light Kazakh stemmer, as regular expressions an Elasticsearch `pattern_replace` filter runs.

Kazakh builds a noun's forms by adding endings in a fixed order, stem + plural + possessive + case
(бекет + тер + і + нің: of its stations), and each ending's first letter follows the sound the
word ends in (қала-да, мектеп-те, облыс-ы-нда). Neither Lucene nor Snowball has a Kazakh stemmer;
this one takes off at most one ending of each kind, from the last to the first, so that a reader's
word finds the article's inflected forms (шахта finds шахтада and шахтадағы, бекет finds
бекеттердің). `stem` is what the index's `kazakh` analyzer does to a word (search/index.py); the
patterns are the same for Python's `re` and Java's, and a test runs both.

Its steps, each one pattern (`LAYERS`), after the Kazakh letters became the Russian ones the
index writes (`KAZAKH_LETTERS`: қ → к, і → и, ...):

1. Case: genitive, dative, locative (and locative + relative, -дағы), ablative, instrumental, and
   the accusative after a possessive (-ын). An ending is taken only after the sounds it follows
   (-та after a voiceless consonant, -да after a voiced one or a vowel; -на, -нда and -н after a
   possessive's ы or і), and only if what is left keeps `MIN_STEM` letters, one more for an ending
   of one or two letters: шахта, Астана and жолда stay as they are.
2. Possessive of the third person: -ы/-і after a consonant, -сы/-сі after a vowel, the shorter
   ending first (облысы → облыс, not облы).
3. Plural: -лар/-лер after a vowel, р, й or у; -дар/-дер after л, м, н, ң, з, ж; -тар/-тер after the
   rest.
4. The possessive's -ы/-і once more, after a plural (кеншілер → кенші → кенш, as кенші alone).
5. A stem's last г or б, which a vowel after it voiced, back to к or п (әкімдігі → әкімдік,
   шаруашылығы → шаруашылық; the index writes ғ as г and қ as к).

What it cannot do, measured by bench/relevance.py: tell облыс + ы from облы + сы (it takes the
first), find a short root under a short ending (жол in жолда), or tell a name's own ending from
a case's (Қарағанды is stemmed as an accusative, Қарағандыда is not). Verbs keep their endings.
"""

import re

# Kazakh letters Russian spelling lacks, and the letter it writes instead: the index folds them so
# that Тоқаев and Токаев are one word (search/index.py's `kazakh_letters`).
KAZAKH_LETTERS = {"ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х", "і": "и"}
MIN_STEM = 3
VOWELS = "аәеиоөуұүыіэюяё"
VOICELESS = "кқпстфхцчшщ"
NASALS = "мнң"
POSSESSIVE_VOWELS = "ыі"  # the ending of a third person's possessive, before -на, -нда, -н
# The endings of each case, by the sounds they follow.
CASE_AFTER_VOICELESS = ("тың", "тің", "қа", "ке", "ты", "ті", "та", "те", "тағы", "тегі", "тан", "тен", "пен")
CASE_AFTER_VOICED = ("дың", "дің", "ға", "ге", "ды", "ді", "да", "де", "дағы", "дегі", "дан", "ден", "мен", "бен")
CASE_AFTER_VOWELS = ("ның", "нің", "ға", "ге", "ны", "ні", "да", "де", "дағы", "дегі", "дан", "ден", "мен")
CASE_AFTER_NASALS = ("ның", "нің", "нан", "нен")
CASE_AFTER_POSSESSIVE = ("на", "не", "нда", "нде", "ндағы", "ндегі", "нан", "нен", "н")
STOPWORDS = (  # conjunctions, postpositions and pronouns every article has
    "және", "мен", "бен", "пен", "да", "де", "та", "те", "бұл", "сол", "ол", "осы", "бір", "үшін", "туралы",
    "бойынша", "ал", "бірақ", "немесе", "әр", "еді", "деп", "сондай", "ақ", "тағы", "дейін", "кейін", "арқылы",
)  # fmt: skip


def russian_letters(text: str) -> str:
    """`text` with each Kazakh letter as Russian spelling writes it (lower case)."""
    return "".join(KAZAKH_LETTERS.get(letter, letter) for letter in text)


def _letters(letters: str) -> str:
    return "".join(sorted(set(russian_letters(letters))))


def _endings(endings: tuple[str, ...]) -> str:
    return "|".join(sorted({russian_letters(ending) for ending in endings}, key=len, reverse=True))


def _after(letters: str, endings: tuple[str, ...], *, short: bool) -> str | None:
    chosen = tuple(ending for ending in endings if (len(ending) <= 2) == short)
    return f"(?<=[{_letters(letters)}])(?:{_endings(chosen)})" if chosen else None


def _case(short: bool) -> str:
    voiced = "бвгғджзйлмнңрууһ"  # у, ў after a vowel, takes the endings of a voiced consonant (жинау-ды)
    alternatives = (
        _after(VOICELESS, CASE_AFTER_VOICELESS, short=short),
        _after(voiced, CASE_AFTER_VOICED, short=short),
        _after(VOWELS, CASE_AFTER_VOWELS, short=short),
        _after(NASALS, CASE_AFTER_NASALS, short=short),
        _after(POSSESSIVE_VOWELS, CASE_AFTER_POSSESSIVE, short=short),
    )
    return "|".join(alternative for alternative in alternatives if alternative)


def _consonant_then(endings: str) -> str:
    return f"(?<=[^{_letters(VOWELS)}])(?:{endings})"


POSSESSIVE = f"^(.{{{MIN_STEM},}})(?:{_consonant_then('ы|и')}|(?<=[{_letters(VOWELS)}])(?:сы|си))$"  # the shorter ending
PLURAL = (
    f"^(.{{2,}}?)(?:(?<=[{_letters(VOWELS + 'рйу')}])(?:лар|лер)|(?<=[{_letters('лмнңзж')}])(?:дар|дер)"
    f"|(?<=[^{_letters(VOWELS + 'рйулмнңзж')}])(?:тар|тер))$"
)
# Each an Elasticsearch pattern_replace filter that keeps the stem, its groups joined (`replacement`).
FILTERS = {
    "kazakh_case": f"^(.{{{MIN_STEM},}}?)(?:{_case(short=False)})$|^(.{{{MIN_STEM + 1},}}?)(?:{_case(short=True)})$",
    "kazakh_possessive": POSSESSIVE,
    "kazakh_plural": PLURAL,
    "kazakh_final_g": "^(.{2,})г$",
    "kazakh_final_b": "^(.{2,})б$",
}
VOICELESS_AGAIN = {"kazakh_final_g": "к", "kazakh_final_b": "п"}  # what the last letter becomes
CHAIN = ("kazakh_case", "kazakh_possessive", "kazakh_plural", "kazakh_possessive", *VOICELESS_AGAIN)  # the steps
_COMPILED = {name: re.compile(pattern) for name, pattern in FILTERS.items()}


def replacement(name: str) -> str:
    """The filter's replacement in Java's terms: every group, of which one matched (Java writes an unmatched one as nothing)."""
    return "".join(f"${group}" for group in range(1, _COMPILED[name].groups + 1)) + VOICELESS_AGAIN.get(name, "")


def stem(word: str) -> str:
    """What the index's `kazakh` analyzer makes of one lower-case word, its letters already Russian."""
    for name in CHAIN:
        match = _COMPILED[name].fullmatch(word)
        if match:
            word = "".join(group or "" for group in match.groups()) + VOICELESS_AGAIN.get(name, "")
    return word
