"""Where the benches find their real pages: bench/extraction-benchmark/, inside the repository.

The dev half of the public article-extraction benchmark (its README.md says what it holds), so
every bench runs from a plain clone.
"""

from datetime import datetime
from pathlib import Path

from ingest.contract import Discovery, RawArticle

BENCHMARK = Path(__file__).resolve().parent / "extraction-benchmark"


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
