"""News sources, declared in a YAML file (NEWSFLOW_SOURCES_FILE) and validated on load."""

from datetime import datetime
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, Literal

import yaml
from cssselect import GenericTranslator, SelectorError
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from newsflow.errors import ConfigError

HTTP_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)


class SiteRules(BaseModel):
    """What transform removes from this source's pages before extracting the article."""

    model_config = ConfigDict(extra="forbid")

    drop_selectors: list[str] = Field(
        [], description="CSS selectors of blocks that are never article text, e.g. a 'Latest news' list."
    )

    @field_validator("drop_selectors")
    @classmethod
    def _css(cls, selectors: list[str]) -> list[str]:
        return [_valid_css(selector) for selector in selectors]


class QualityThresholds(BaseModel):
    """When news_quality fails its run for this source: stale, or its reject rate jumped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expected_interval_hours: float = Field(
        24.0, gt=0, description="Stale when its newest article was first seen longer ago than this."
    )
    reject_rate_jump: float = Field(
        3.0,
        gt=1,
        description="The reject rate jumped when the window's is this many times its usual rate (and over min_reject_rate).",
    )
    min_reject_rate: float = Field(
        0.2, ge=0, le=1, description="A reject rate at or under this is never a jump: one dead letter among a few articles."
    )


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Stable id: lower-case letters, digits, - and _.")
    name: str
    kind: Literal["feed", "sitemap", "listing"] = Field(
        description="feed: RSS, Atom or JSON Feed; sitemap: a (news) sitemap or sitemap index; "
        "listing: an HTML page whose links (link_selector) are articles."
    )
    urls: list[AnyHttpUrl] = Field(min_length=1)
    language: str | None = Field(None, pattern=r"^[a-z]{2}$", description="ISO 639-1 hint, e.g. 'en'.")
    poll_interval_minutes: int = Field(
        15, ge=1, description="How often it is polled, unless its feeds announce or its history shows that it changes less often."
    )
    max_poll_interval_minutes: int = Field(1440, ge=1, description="The longest it goes unpolled, however rarely it changes.")
    requests_per_second: float = Field(1.0, gt=0, description="Politeness: requests per second to each of its hosts.")
    link_selector: str | None = Field(None, description="listing only: CSS selector of the article links.")
    allow_networks: list[IPv4Network | IPv6Network] = Field(
        [],
        description="Private networks this source may reach despite the SSRF guard, e.g. 127.0.0.0/8 "
        "for a site on this machine. Empty: only public addresses.",
    )
    archive_urls: list[str] = Field(
        [],
        description="news_backfill only: listings of past articles, read like the source's urls. A URL may name a "
        "day in strftime fields, e.g. 'https://example.com/sitemap-{date:%Y-%m}.xml' or "
        "'https://example.com/archive/{date:%Y/%m/%d}/': a backfill reads it for each day of its range, each distinct URL once.",
    )
    site_rules: SiteRules = SiteRules()
    quality: QualityThresholds = QualityThresholds()

    @field_validator("archive_urls")
    @classmethod
    def _archive_urls(cls, templates: list[str]) -> list[str]:
        for template in templates:
            try:
                url = archive_url(template, datetime(2026, 1, 31))
            except (ValueError, KeyError, IndexError) as exc:
                raise ValueError(f"{template!r}: its only fields may be {{date:FORMAT}} ({exc!r})") from None
            try:
                HTTP_URL.validate_python(url)
            except ValidationError:
                raise ValueError(f"{template!r} is not an http(s) URL") from None
        return templates

    @field_validator("link_selector")
    @classmethod
    def _css(cls, selector: str | None) -> str | None:
        return None if selector is None else _valid_css(selector)

    @model_validator(mode="after")
    def _poll_bounds(self) -> "Source":
        if self.max_poll_interval_minutes < self.poll_interval_minutes:
            raise ValueError("max_poll_interval_minutes is shorter than poll_interval_minutes")
        return self

    @model_validator(mode="after")
    def _listing_needs_a_selector(self) -> "Source":
        if (self.kind == "listing") != (self.link_selector is not None):
            raise ValueError("link_selector is required for kind 'listing' and only allowed there")
        return self


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[Source]

    @field_validator("sources")
    @classmethod
    def _unique_ids(cls, sources: list[Source]) -> list[Source]:
        seen: set[str] = set()
        for source in sources:
            if source.id in seen:
                raise ValueError(f"source id {source.id!r} appears twice")
            seen.add(source.id)
        return sources


def archive_url(template: str, day: datetime) -> str:
    """An archive URL of `Source.archive_urls` for one day: its `{date:FORMAT}` fields filled in."""
    return template.format(date=day)


def load_sources(path: Path) -> list[Source]:
    """The sources of `path`; any problem is one `ConfigError` line naming the source and field."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sources file ({exc.strerror}); set NEWSFLOW_SOURCES_FILE") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    try:
        return SourcesFile.model_validate(document).sources
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc.errors()[0], document)}") from None


def find_source(sources: list[Source], source_id: str) -> Source:
    for source in sources:
        if source.id == source_id:
            return source
    raise ConfigError(f"no source {source_id!r}; known: {', '.join(source.id for source in sources)}")


def _describe(error: ErrorDetails, document: Any) -> str:
    location = list(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if len(location) >= 2 and location[0] == "sources" and isinstance(location[1], int):
        entry = document["sources"][location[1]]
        name = entry.get("id") if isinstance(entry, dict) else None
        who = f"source {name!r}" if name else f"source #{location[1] + 1}"
        field = ".".join(str(part) for part in location[2:])
        return f"{who}, field {field!r}: {message}" if field else f"{who}: {message}"
    return f"{'.'.join(str(part) for part in location) or 'file'}: {message}"


def _valid_css(selector: str) -> str:
    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        raise ValueError(f"invalid CSS selector {selector!r}: {exc}") from None
    return selector
