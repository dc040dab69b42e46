"""Article identity: the canonical form of a URL, and the id derived from it."""

import hashlib
from urllib.parse import urldefrag

import courlan
from url_normalize import url_normalize


def canonical_url(url: str) -> str:
    """The URL with tracking parameters and fragment dropped, host, path and query normalized.

    courlan drops tracking and session parameters and sorts the query; url-normalize lowercases
    scheme and host, removes default ports and dot segments, and normalizes percent-encoding.
    """
    normalized = url_normalize(courlan.normalize_url(url)) or url  # None only for an empty URL
    return urldefrag(normalized).url


def article_id(canonical: str) -> str:
    """Hex SHA-256 of a canonical URL: the article's id everywhere, and its Elasticsearch `_id`."""
    return hashlib.sha256(canonical.encode()).hexdigest()
