"""Normalized articles for the search tests, made by transform itself from realistic pages, and the
raw articles they are made from."""

from datetime import UTC, datetime

from ingest.contract import Discovery, RawArticle
from newsflow.ops.demo.site import article_page, seed_article_page
from transform.contract import NormalizedArticle
from transform.normalize import normalize

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def article(
    n: int, html: str, source: str = "orda-kz-en", seen: datetime = T0, fetched: datetime = T0, published: datetime | None = None
) -> NormalizedArticle:
    return normalize(raw_article(n, html, source, seen, fetched, published), datetime.now(UTC), 10)


def raw_article(
    n: int, html: str, source: str = "orda-kz-en", seen: datetime = T0, fetched: datetime = T0, published: datetime | None = None
) -> RawArticle:
    url = f"https://{source}.example/news/{n}"
    return RawArticle(
        article_id=f"{n:064x}",
        source_id=source,
        url=url,
        canonical_url=url,
        fetched_at=fetched,
        first_seen_at=seen,
        status=200,
        headers={},
        content_type="text/html",
        encoding="utf-8",
        html=html,
        discovery=Discovery(kind="feed", listing_url=f"https://{source}.example/rss", published_at=published),
    )


SEED = seed_article_page().decode()
SYNDICATED = SEED.replace("<nav>", "<nav><a href='/kz'>Kazakhstan</a>").replace(
    "Orda.kz reports", "reports Orda.kz (republished by Tengri News)"
)
UNRELATED = article_page(
    "Snow closes the Almaty ring road",
    [
        "Snow closed the Almaty ring road on Tuesday morning as temperatures dropped to minus twenty degrees.",
        "The city akimat sent two hundred machines to clear the main avenues before noon.",
    ],
).decode()
