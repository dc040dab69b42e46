"""The contract of `news.raw`: one fetched article page and how it was found.

Transform imports this model to read the topic; ingest never imports downstream models.
Records are JSON, keyed by `article_id`.

Its URLs, id and source id travel unchanged to `news.articles`, whose contract reuses their
types: a record that breaks them is a `schema_violation` wherever it is read, also when it was
written to the topic by something other than ingest, or redriven from the DLQ.
"""

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints

DiscoveryKind = Literal["feed", "sitemap", "listing"]

# URLs, the source id and (in news.articles) names become keyword terms in the index, which
# Elasticsearch refuses over 32,766 bytes: 8,000 characters are at most 32,000 bytes of UTF-8.
# 8,000 is also the URL length RFC 9110 (4.1) asks HTTP software to support.
KEYWORD_MAX_CHARS = 8000
# Whitespace and control characters: browsers drop them from a URL (so `java\tscript:` is
# `javascript:`); an address ingest fetched has them percent-encoded.
URL_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


def _web_url(url: str) -> str:
    """An absolute http(s) URL: the only kind ingest fetches, and the only kind a reader may be sent to."""
    parts = urlsplit(url)
    if URL_UNSAFE.search(url) or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an absolute http(s) URL without whitespace or control characters")
    return url


WebUrl = Annotated[str, StringConstraints(max_length=KEYWORD_MAX_CHARS), AfterValidator(_web_url)]
HexSha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Keyword = Annotated[str, StringConstraints(max_length=KEYWORD_MAX_CHARS)]


class Discovery(BaseModel):
    """What the feed, sitemap or listing said about the article before it was fetched."""

    kind: DiscoveryKind
    listing_url: WebUrl = Field(description="The feed, sitemap or listing page the link was found on.")
    title: str | None = None
    published_at: AwareDatetime | None = None
    modified_at: AwareDatetime | None = None
    authors: list[str] = []
    summary: str | None = None
    language: str | None = None
    entry_id: str | None = Field(None, description="The feed entry's own id (guid), if any.")


class RawArticle(BaseModel):
    schema_version: Literal[1] = 1
    article_id: HexSha256 = Field(description="Hex SHA-256 of the canonical URL.")
    source_id: Keyword
    url: WebUrl = Field(description="The URL the page was finally fetched from, after redirects.")
    canonical_url: WebUrl
    fetched_at: AwareDatetime
    first_seen_at: AwareDatetime = Field(description="When ingest first saw this article.")
    status: int
    headers: dict[str, str] = Field(description="Selected response headers, lower-case names.")
    content_type: str
    encoding: str = Field(description="The encoding the page was decoded from.")
    html: str
    discovery: Discovery

    def key(self) -> bytes:
        return self.article_id.encode()
