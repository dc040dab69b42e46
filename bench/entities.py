"""Entities on real texts labelled by hand: newsflow's against the bare libraries', in one run.

1. Read the labelled set (bench/entity-labels.yaml): demo articles and benchmark pages, each with
   its people, places and organisations. Each text goes through `transform.normalize.normalize`
   as the worker gets it (bench/language.py's way), for its title, body and language.
2. Name the entities of each text three ways: newsflow (`transform.entities.entities`, as
   transform calls it); newsflow with its models reading the whole body (MODEL_MAX_CHARS lifted),
   to show what the bound costs; and the bare libraries on title and body, as their documentation
   uses them: spaCy's en_core_web_sm for English (PERSON; GPE and LOC as places; ORG), natasha's
   NER with its own normalisation for Russian, none for other languages.
3. Match: a name found is right if it is, in folded words (`transform.gazetteer.folded_words`,
   without a leading "the" or a possessive), one of the spellings of an entity of its type marked
   in the text, or for a person the first or last words of one. Precision counts the names found
   (each distinct name of a type once per text), recall the entities marked.
4. Print precision, recall and F1 per language and type for each way, for all texts and for the
   benchmark pages alone (the demo's articles are Kazakhstan's news the curated gazetteer was
   written for); canonical merges: of the pairs of right names that newsflow gave one key, across
   all texts, how many name one marked entity (merge precision), and of the pairs of one marked
   entity how many got one key (merge recall), with the wrong merges; and the CPU time of each way
   per text and language.
5. What entities add to transform: the CPU time of `normalize` on each of the 91 benchmark pages
   with entities and without (their step replaced by an empty list), two rounds each, interleaved.

    .venv/bin/python bench/entities.py [--json]

With --json, the last line is one JSON object: `precision`, `recall`, `f1` under `scores` by subset (`all`,
`benchmark`), language, way (`newsflow`, `newsflow_whole_body`, `bare`) and type (and `all`); `merge_precision`,
`merge_recall`; `cpu_ms_per_text` by way and language; `normalize_ms_per_page` `with_entities`, `without`, `added`.
"""

import contextlib
import itertools
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import BENCHMARK
from bench.language import MIN_WORDS, demo_articles
from bench.report import json_arguments, print_json
from bench.transform import raw_articles
from ingest.contract import RawArticle
from newsflow.errors import Rejected
from transform import entities as newsflow_entities
from transform.entities import NATASHA_TYPES, SPACY_TYPES, _natasha, _spacy
from transform.gazetteer import folded_words
from transform.normalize import normalize

LABELS = Path(__file__).resolve().parent / "entity-labels.yaml"
TYPES = ("person", "place", "organization")
LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
POSSESSIVE = re.compile(r"['’]s?$")


@dataclass(frozen=True)
class Text:
    id: str
    language: str
    title: str
    body: str
    marked: dict[str, list[list[str]]]  # type -> entities, each its spellings (the first names it everywhere)


@dataclass(frozen=True)
class Found:
    type: str
    name: str
    key: str | None = None  # newsflow's


def labelled_set() -> Iterator[Text]:
    labels = yaml.safe_load(LABELS.read_text(encoding="utf-8"))["texts"]
    now = datetime.now(UTC)
    pages: list[tuple[str, RawArticle, str | None]] = []
    for demo in demo_articles():
        text_id = f"demo/{demo.article.publisher}/{demo.article.slug}"
        if text_id in labels:
            pages.append((text_id, demo.raw, demo.source_language))
    benchmark = sorted(path.name.split(".")[0] for path in (BENCHMARK / "html").glob("*.html.gz"))
    for page_id, raw in zip(benchmark, raw_articles(len(benchmark)), strict=True):
        if f"benchmark/{page_id[:12]}" in labels:
            pages.append((f"benchmark/{page_id[:12]}", raw, None))
    for text_id, raw, source_language in pages:
        try:
            article = normalize(raw, now, MIN_WORDS, (), source_language)
        except Rejected:
            continue
        marked = {kind: [[name.strip() for name in item.split("|")] for item in labels[text_id][kind]] for kind in TYPES}
        yield Text(text_id, article.language or "", article.title, article.body, marked)


def newsflow(text: Text) -> list[Found]:
    return [
        Found(entity.type, entity.name, entity.key) for entity in newsflow_entities.entities(text.title, text.body, text.language)
    ]


def newsflow_whole_body(text: Text) -> list[Found]:
    with mock.patch.object(newsflow_entities, "MODEL_MAX_CHARS", len(text.body) + 1):
        return newsflow(text)


def bare(text: Text) -> list[Found]:
    whole = f"{text.title}\n{text.body}"
    if text.language == "en":
        found = [Found(SPACY_TYPES[span.label_], span.text) for span in _spacy()(whole).ents if span.label_ in SPACY_TYPES]
    elif text.language == "ru":
        natasha = _natasha()
        doc = natasha["Doc"](whole)
        doc.segment(natasha["segmenter"])
        doc.tag_ner(natasha["ner"])
        doc.tag_morph(natasha["morph"])
        for span in doc.spans:
            span.normalize(natasha["vocab"])
        found = [Found(NATASHA_TYPES[span.type], span.normal or span.text) for span in doc.spans]
    else:
        found = []
    return list(dict.fromkeys(found))


WAYS: dict[str, Callable[[Text], list[Found]]] = {
    "newsflow": newsflow,
    "newsflow, models on the whole body": newsflow_whole_body,
    "bare libraries": bare,
}
KEYS = {"newsflow": "newsflow", "newsflow, models on the whole body": "newsflow_whole_body", "bare libraries": "bare"}


def words(name: str) -> tuple[str, ...]:
    return tuple(folded_words(POSSESSIVE.sub("", LEADING_THE.sub("", name.strip()))))


def marked_entity(found: Found, text: Text) -> str | None:
    """The first spelling of the marked entity `found` names, or None."""
    name = words(found.name)
    for spellings in text.marked[found.type]:
        for spelling in map(words, spellings):
            if name == spelling or (
                found.type == "person" and name and (spelling[: len(name)] == name or spelling[-len(name) :] == name)
            ):
                return spellings[0]
    return None


@dataclass
class Score:
    found: int = 0
    right: int = 0
    marked: int = 0
    recalled: int = 0

    def add(self, other: "Score") -> None:
        self.found, self.right = self.found + other.found, self.right + other.right
        self.marked, self.recalled = self.marked + other.marked, self.recalled + other.recalled

    def figures(self) -> dict[str, float]:
        precision = self.right / self.found if self.found else float("nan")
        recall = self.recalled / self.marked if self.marked else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1}

    def line(self) -> str:
        precision, recall, f1 = self.figures().values()
        counts = f"{self.right}/{self.found} found right, {self.recalled}/{self.marked} marked found"
        return f"P {precision:.3f} R {recall:.3f} F1 {f1:.3f}  ({counts})"


def score(text: Text, found: list[Found], kind: str) -> Score:
    names = list(dict.fromkeys(item for item in found if item.type == kind))
    entities = [marked_entity(item, text) for item in names]
    return Score(
        len(names), sum(entity is not None for entity in entities), len(text.marked[kind]), len(set(filter(None, entities)))
    )


def merges(texts: list[Text], found: dict[str, list[Found]]) -> tuple[int, int, int, int, Counter]:
    """(right pairs, pairs with one key, pairs with one key among one entity's, pairs of one entity), wrong merges."""
    occurrences = [
        (item.type, item.key, entity)
        for text in texts
        for item in found[text.id]
        if (entity := marked_entity(item, text)) is not None
    ]
    by_key: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    by_entity: dict[tuple[str, str], list[str | None]] = defaultdict(list)
    for kind, key, entity in occurrences:
        by_key[kind, key].append(entity)
        by_entity[kind, entity].append(key)
    right = total = 0
    wrong: Counter = Counter()
    for (kind, key), entities in by_key.items():
        for first, second in itertools.combinations(entities, 2):
            total += 1
            right += first == second
            if first != second:
                wrong[f"{kind} {key}: {' / '.join(sorted({first, second}))}"] += 1
    together = pairs = 0
    for keys in by_entity.values():
        for one, other in itertools.combinations(keys, 2):
            pairs += 1
            together += one == other
    return right, total, together, pairs, wrong


def main() -> None:
    args = json_arguments(__doc__)
    newsflow_entities.load()
    texts = list(labelled_set())
    languages = Counter(text.language for text in texts)
    print(f"{len(texts)} labelled texts: " + ", ".join(f"{language} {count}" for language, count in languages.most_common()))
    found: dict[str, dict[str, list[Found]]] = {way: {} for way in WAYS}
    seconds: dict[str, dict[str, float]] = {way: defaultdict(float) for way in WAYS}
    for way, name in WAYS.items():
        for text in texts:
            started = time.process_time()
            found[way][text.id] = name(text)
            seconds[way][text.language] += time.process_time() - started
    scores: dict[str, dict[str, dict[str, dict[str, dict[str, float]]]]] = {}
    for subset, key, chosen in (
        ("all texts", "all", texts),
        ("benchmark pages only", "benchmark", [text for text in texts if text.id.startswith("benchmark/")]),
    ):
        print(f"\n{subset}")
        for language in sorted({text.language for text in chosen}):
            of_language = [text for text in chosen if text.language == language]
            print(f"  {language} ({len(of_language)} texts)")
            for way in WAYS:
                by_type = scores.setdefault(key, {}).setdefault(language, {}).setdefault(KEYS[way], {})
                overall = Score()
                for kind in TYPES:
                    kind_score = Score()
                    for text in of_language:
                        kind_score.add(score(text, found[way][text.id], kind))
                    overall.add(kind_score)
                    by_type[kind] = kind_score.figures()
                    print(f"    {way:36} {kind:12} {kind_score.line()}")
                by_type["all"] = overall.figures()
                print(f"    {way:36} {'all':12} {overall.line()}")
    right, total, together, pairs, wrong = merges(texts, found["newsflow"])
    print(
        f"\ncanonical merges (newsflow, all texts): precision {right / total:.3f} "
        f"({right} of {total} pairs with one key name one entity)"
    )
    print(f"  recall {together / pairs:.3f} ({together} of {pairs} pairs of one entity have one key)")
    for merge, count in wrong.most_common(12):
        print(f"  wrong: {merge} ({count} pairs)")
    print("\nCPU ms per text (process time)")
    for way in WAYS:
        print(
            f"  {way:36} "
            + ", ".join(f"{language} {seconds[way][language] / languages[language] * 1000:.1f}" for language in sorted(languages))
        )
    figures = {
        "scores": scores,
        "merge_precision": right / total,
        "merge_recall": together / pairs,
        "cpu_ms_per_text": {
            KEYS[way]: {language: seconds[way][language] / languages[language] * 1000 for language in sorted(languages)}
            for way in WAYS
        },
        "normalize_ms_per_page": transform_cost(),
    }
    print_json(args, figures)


def transform_cost() -> dict[str, float]:
    """Prints, and returns, the CPU ms per page of normalize with entities, without, and what they add."""
    pages = raw_articles(len(list((BENCHMARK / "html").glob("*.html.gz"))))
    now = datetime.now(UTC)
    totals: dict[str, float] = defaultdict(float)
    for _round in range(2):
        for way in ("with entities", "without"):
            with mock.patch("transform.normalize.entities", return_value=[]) if way == "without" else contextlib.nullcontext():
                started = time.process_time()
                for raw in pages:
                    with contextlib.suppress(Rejected):
                        normalize(raw, now, MIN_WORDS)
                totals[way] += time.process_time() - started
    per_page = {way: seconds / (2 * len(pages)) * 1000 for way, seconds in totals.items()}
    print(
        f"\ntransform's normalize on the {len(pages)} benchmark pages, CPU ms per page: "
        f"with entities {per_page['with entities']:.1f}, without {per_page['without']:.1f}: "
        f"entities add {per_page['with entities'] - per_page['without']:.1f}"
    )
    added = per_page["with entities"] - per_page["without"]
    return {"with_entities": per_page["with entities"], "without": per_page["without"], "added": added}


if __name__ == "__main__":
    main()
