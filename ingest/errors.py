"""Why ingest could not take an article or a listing. Each error has a stable reason code.

Article-level errors are counted, logged and dead-lettered; they never fail a run. Listing-level
errors (a feed that does not parse, a sitemap that cannot be fetched) are counted and logged.
"""

from typing import ClassVar

from newsflow.errors import NewsflowError


class IngestError(NewsflowError):
    reason: ClassVar[str]


class FetchError(IngestError):
    """An HTTP fetch that did not give a usable body."""

    @property
    def permanent(self) -> bool:
        """True when fetching the same URL again would fail the same way: it is not retried."""
        return True


class AddressRefused(FetchError):
    reason = "ssrf_refused"


class RobotsDisallowed(FetchError):
    reason = "robots_disallowed"


class TooLarge(FetchError):
    reason = "too_large"


class WrongContentType(FetchError):
    reason = "wrong_content_type"


class Undecodable(FetchError):
    reason = "undecodable"


class TooManyRedirects(FetchError):
    reason = "too_many_redirects"


class HttpStatusError(FetchError):
    """A 4xx, or a 5xx or 429 that retries did not cure."""

    reason = "http_status"

    def __init__(self, message: str, status: int, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def retriable(self) -> bool:
        return self.status >= 500 or self.status == 429

    @property
    def permanent(self) -> bool:
        return not self.retriable


class Unreachable(FetchError):
    """Timeouts, refused connections, broken responses, after retries."""

    reason = "unreachable"

    @property
    def permanent(self) -> bool:
        return False


class InvalidListing(IngestError):
    """A feed, sitemap or listing page that was fetched but does not parse."""

    reason = "invalid_listing"
