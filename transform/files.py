"""Pages from files, through the worker's own `normalize`: `newsflow extract`.

A page file is `<id>.html` or `<id>.html.gz`; its bytes are decoded as ingest decodes a fetched
page, and it becomes a `RawArticle` whose URL is the file's path under FILES_ORIGIN, so the result
is exactly what the transform worker would publish for it.
"""

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from ingest.contract import Discovery, RawArticle
from newsflow.errors import ConfigError, Rejected
from newsflow.pages import decode_page
from newsflow.urls import article_id
from transform.normalize import normalize

SUFFIXES = (".html.gz", ".html")
# A saved page has no web address, and the contract takes only http(s) URLs: its path under a
# reserved domain (RFC 6761), which names no real site.
FILES_ORIGIN = "https://files.invalid"


def page_files(paths: list[Path]) -> list[Path]:
    """The page files named, and those inside the folders named, sorted within each folder."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(child for child in path.iterdir() if child.name.endswith(SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"{path}: no such file or folder")
    if not found:
        raise ConfigError(f"no .html or .html.gz files in {', '.join(map(str, paths))}")
    return found


def page_id(path: Path) -> str:
    return next((path.name.removesuffix(suffix) for suffix in SUFFIXES if path.name.endswith(suffix)), path.stem)


def extract_files(files: list[Path], min_words: int) -> Iterator[tuple[str, dict]]:
    """(page id, the article's fields) per file, or (page id, {"error": reason, "detail": ...})."""
    now = datetime.now(UTC)
    for path in files:
        try:
            article = normalize(_raw_article(path, now), now, min_words)
        except Rejected as exc:
            yield page_id(path), {"error": str(exc.reason), "detail": str(exc)}
            continue
        except (OSError, EOFError) as exc:  # unreadable, or a broken .gz
            yield page_id(path), {"error": "unreadable_file", "detail": f"{path}: {exc}"}
            continue
        fields = article.model_dump(
            mode="json",
            include={"title", "body", "authors", "lead", "language", "word_count", "site_name", "published_at", "modified_at"},
        )
        yield page_id(path), fields


def _raw_article(path: Path, now: datetime) -> RawArticle:
    body = path.read_bytes()
    if path.name.endswith(".gz"):
        body = gzip.decompress(body)
    url = _web_address(path)
    html, encoding = decode_page(body, "text/html", url)
    return RawArticle(
        article_id=article_id(url),
        source_id="files",
        url=url,
        canonical_url=url,
        fetched_at=now,
        first_seen_at=now,
        status=200,
        headers={},
        content_type="text/html",
        encoding=encoding,
        html=html,
        discovery=Discovery(kind="listing", listing_url=_web_address(path.parent)),
    )


def _web_address(path: Path) -> str:
    """The file's absolute path under FILES_ORIGIN, percent-encoded as in its file: URI."""
    return FILES_ORIGIN + urlsplit(path.resolve().as_uri()).path
