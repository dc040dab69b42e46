"""A fetched page's bytes as text: what ingest publishes, and what `newsflow extract` reads from files."""

from contextlib import suppress

from w3lib.encoding import html_to_unicode

from newsflow.errors import Reason, Rejected

# Signatures of formats served as text/html by mistake that may have no NUL in their first 4 KB.
BINARY_SIGNATURES = (
    b"%PDF-",
    b"PK\x03\x04",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"\x1f\x8b",
    b"7z\xbc\xaf",
    b"Rar!\x1a",
    b"\x7fELF",
    b"OggS",
)


def decode_page(body: bytes, content_type: str, url: str) -> tuple[str, str]:
    """The text of a page fetched from `url` and the encoding it was decoded from (the Content-Type
    header, a BOM, <meta>, or detected); `Rejected` for binary content and undecodable text."""
    if b"\x00" in body[:4096] or body.lstrip()[:8].startswith(BINARY_SIGNATURES):
        raise Rejected(Reason.WRONG_CONTENT_TYPE, f"{url}: binary content served as {content_type or 'no type'}")
    encoding, text = html_to_unicode(content_type, body)
    if encoding not in ("utf-8", "utf8") and not body.isascii():
        # Valid UTF-8 with non-ASCII bytes is UTF-8, whatever the page declares: no other encoding looks like it.
        with suppress(UnicodeDecodeError):
            text, encoding = body.decode("utf-8").removeprefix("\ufeff"), "utf-8"
    if text.count("\ufffd") > max(10, len(text) // 100):
        raise Rejected(Reason.UNDECODABLE, f"{url}: not valid {encoding} text")
    return text, encoding
