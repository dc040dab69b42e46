"""Where the benches find their real pages, inside the repository, so every bench runs from a plain clone:

- bench/extraction-benchmark/: the dev half of the public article-extraction benchmark (its
  README.md says what it holds), the pages every bench reads;
- bench/extraction-collected/: pages of other publishers and languages gathered from the test data
  of permissively licensed projects, with their article bodies (its README.md gives each origin),
  read by bench/extraction.py.

`labelled_pages` reads either: both keep `html/<id>.html.gz` beside a JSON file of labels.
"""

import gzip
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ingest.contract import Discovery, RawArticle
from newsflow.pages import decode_page

BENCHMARK = Path(__file__).resolve().parent / "extraction-benchmark"
COLLECTED = Path(__file__).resolve().parent / "extraction-collected"
LABELS = {BENCHMARK: "ground-truth.json", COLLECTED: "labels.json"}


@dataclass(frozen=True)
class LabelledPage:
    page_id: str
    url: str
    html: str
    body: str  # the article text as people labelled it
    language: str | None  # the article's language, where its labels give it (the collected pages')


def labelled_pages(corpus: Path) -> list[LabelledPage]:
    """The pages of `corpus` (BENCHMARK or COLLECTED) sorted by id, decoded as ingest decodes a page."""
    labels = json.loads((corpus / LABELS[corpus]).read_text())
    return [
        LabelledPage(
            page_id,
            label["url"],
            decode_page(gzip.decompress((corpus / "html" / f"{page_id}.html.gz").read_bytes()), "text/html", label["url"])[0],
            label["articleBody"],
            label.get("language"),
        )
        for page_id, label in sorted(labels.items())
    ]


def raw_page(article_id: str, source_id: str, url: str, html: str, at: datetime) -> RawArticle:
    """A page as ingest would put it on news.raw: fetched and first seen `at`, found in a feed."""
    return RawArticle(
        article_id=article_id,
        source_id=source_id,
        url=url,
        canonical_url=url,
        fetched_at=at,
        first_seen_at=at,
        status=200,
        headers={},
        content_type="text/html",
        encoding="utf-8",
        html=html,
        discovery=Discovery(kind="feed", listing_url="https://bench.invalid/feed"),
    )
