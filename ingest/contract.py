"""The contract of `news.raw`: one fetched article page and how it was found.

Transform imports this model to read the topic; ingest never imports downstream models.
Records are JSON, keyed by `article_id`.
"""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

DiscoveryKind = Literal["feed", "sitemap", "listing"]


class Discovery(BaseModel):
    """What the feed, sitemap or listing said about the article before it was fetched."""

    kind: DiscoveryKind
    listing_url: str = Field(description="The feed, sitemap or listing page the link was found on.")
    title: str | None = None
    published_at: AwareDatetime | None = None
    modified_at: AwareDatetime | None = None
    authors: list[str] = []
    summary: str | None = None
    language: str | None = None
    entry_id: str | None = Field(None, description="The feed entry's own id (guid), if any.")


class RawArticle(BaseModel):
    schema_version: Literal[1] = 1
    article_id: str = Field(description="Hex SHA-256 of the canonical URL.")
    source_id: str
    url: str = Field(description="The URL the page was finally fetched from, after redirects.")
    canonical_url: str
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
