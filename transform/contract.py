"""The contract of `news.articles`: one clean article, as search indexes it.

JSON records keyed by `article_id`; every field is described in docs/contracts.md. The search
stage imports this model; transform imports only ingest's contract (`news.raw`), whose URL, id
and length types this one reuses for the same fields.

Every field the index maps as a keyword has a bound under Elasticsearch's limit on a term
(32,766 bytes), so that a valid article is never refused for one: `normalize` makes its values
fit (docs/contracts.md, "Bounds"), and a record that does not is a `schema_violation` for the
indexer rather than a document Elasticsearch rejects.
"""

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from ingest.contract import KEYWORD_MAX_CHARS, HexSha256, Keyword, WebUrl

DateSource = Literal["json-ld", "meta", "feed", "sitemap", "listing", "url", "htmldate"]
EntityType = Literal["person", "place", "organization"]
EntityKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=KEYWORD_MAX_CHARS)]
MAX_ENTITIES = 100  # the most mentioned: a round-up of a sports day names 90


class DatedBy(BaseModel):
    """A date and where it came from."""

    value: AwareDatetime = Field(
        description="In the offset its source wrote it in (UTC when it wrote none): the same instant in any offset, "
        "and the day the page shows stays its day."
    )
    source: DateSource
    # Records written before days were told from times read False.
    date_only: bool = Field(
        default=False,
        description="The source gave a day, not a time: `value` is its midnight, in the page's zone if known, else UTC.",
    )


class Entity(BaseModel):
    """A person, place or organisation the article names, under its canonical key."""

    type: EntityType
    key: EntityKey = Field(description="The same for every spelling of the entity, in any script: Toqayev, Tokayev, Токаев.")
    name: Keyword = Field(description="The name to show.")


class NormalizedArticle(BaseModel):
    schema_version: Literal[1] = 1
    article_id: HexSha256 = Field(description="Hex SHA-256 of the canonical URL, as ingest computed it.")
    source_id: Keyword
    url: WebUrl = Field(description="Where the page was fetched from.")
    canonical_url: WebUrl
    site_name: Keyword | None = None
    title: str
    authors: list[Keyword] = []
    lead: str = Field(description="The first paragraph of the body, or the page's description.")
    body: str = Field(description="The article text: paragraphs separated by newlines, NFC, clean whitespace.")
    language: Keyword | None = Field(description="ISO 639-1 code detected from title and body.")
    word_count: int
    published_at: DatedBy | None = None
    modified_at: DatedBy | None = None
    first_seen_at: AwareDatetime = Field(description="When ingest first saw the article.")
    fetched_at: AwareDatetime
    text_folded: str = Field(description="Title and body folded by newsflow.folding.fold, for name variants.")
    content_hash: HexSha256 = Field(description="Hex SHA-256 of the body: equal bodies, equal hashes.")
    near_duplicate_keys: list[Keyword] = Field(
        description="MinHash LSH band keys of the body: articles of the same story share at least one."
    )
    # Readers of records written before entities were extracted read an empty list.
    entities: list[Entity] = Field(default=[], max_length=MAX_ENTITIES, description="People, places and organisations named.")

    def key(self) -> bytes:
        return self.article_id.encode()
