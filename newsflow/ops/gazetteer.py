"""Seed the gazetteer from the corpus: `python -m newsflow.ops.gazetteer`.

The gazetteer (transform/gazetteer.yaml) is how Kazakh, and every language without a model, gets
its entities. Its curated list is written by hand; this adds what the models find in the corpus's
English and Russian articles, so that a name the Kazakh news shares with them is found there too:

1. Name the entities of each of the demo's English and Russian articles with transform's own
   code (`transform.entities.entities`, on title and paragraphs as the sample site writes them).
2. Keep those the gazetteer does not know yet that MIN_ARTICLES articles or more name, by type
   and display name, with those the section already held; not an organisation of one word, a
   model's mistake ("Brent") more often than a name, nor a name whose every word the corpus also
   writes in lower case: a generic body that every country has ("National Bank", "Ministry of
   Agriculture"), which matched in every text would be the wrong one in most.
3. Write them as the `seeded:` section of transform/gazetteer.yaml, replacing the section; the
   rest of the file is kept as it is. Read the change before committing it: a model's mistake
   becomes the gazetteer's.
"""

import json
import re
from collections import Counter
from pathlib import Path

import yaml

from newsflow.ops.demo.site import SampleSite
from transform.entities import entities
from transform.gazetteer import GAZETTEER, gazetteer

SEEDED = "\nseeded:"
SEEDED_LANGUAGES = ("en", "ru")
MIN_ARTICLES = 2  # what one article names once may be a model's mistake
WORD = re.compile(r"\w+")


def seeded_entries() -> list[dict[str, str]]:
    """Steps 1 and 2: the entries of the new `seeded:` section."""
    known = gazetteer()
    data = yaml.safe_load(GAZETTEER.read_text(encoding="utf-8"))
    curated = {(entry["type"], entry["name"]) for entry in data.get("curated", [])}
    entries = {(entry["type"], entry["name"]) for entry in data.get("seeded") or []}
    articles: Counter[tuple[str, str]] = Counter()
    lower_case: set[str] = set()
    with SampleSite(0) as site:
        for article in site.news.articles:
            if article.language in SEEDED_LANGUAGES and not article.broken:
                body = "\n".join(site.paragraphs(article))
                lower_case |= {word for word in WORD.findall(body) if word.islower()}
                found = entities(article.title, body, article.language)
                articles.update({(entity.type, entity.name) for entity in found if not known.lookup(entity.name)})
    for (entity_type, name), count in articles.items():
        generic = all(word.lower() in lower_case for word in WORD.findall(name))
        one_word_organization = entity_type == "organization" and " " not in name
        if count >= MIN_ARTICLES and not generic and not one_word_organization and (entity_type, name) not in curated:
            entries.add((entity_type, name))
    return [{"type": entity_type, "name": name} for entity_type, name in sorted(entries)]


def write(entries: list[dict[str, str]], path: Path = Path(str(GAZETTEER))) -> None:
    """Step 3."""
    text = path.read_text(encoding="utf-8")
    head = text[: text.index(SEEDED)] if SEEDED in text else text.rstrip("\n")
    lines = [f"  - {{type: {entry['type']}, name: {json.dumps(entry['name'], ensure_ascii=False)}}}" for entry in entries]
    path.write_text(head + SEEDED + ("\n" + "\n".join(lines) if lines else " []") + "\n", encoding="utf-8")


if __name__ == "__main__":
    found = seeded_entries()
    write(found)
    print(f"{GAZETTEER}: {len(found)} seeded entries")
