"""Every error newsflow raises on purpose, in one tree.

    NewsflowError
    ├── Failure                    reaches a person: one line saying what to do, an exit code
    │   ├── ConfigError (exit 2)   a setting, file or argument newsflow cannot use
    │   │   └── search.query.BadSearch   a search request the API refuses (HTTP 422)
    │   │       └── search.query.BadCursor   a search_after token it did not hand out for that sort
    │   ├── ServiceUnreachable     Kafka or Elasticsearch does not answer at the configured address
    │   ├── PublishFailed          Kafka did not acknowledge a record: the run fails, and is retried
    │   ├── IngestFailed           sources whose ingest run failed; the other sources still ran
    │   ├── ServiceError           a local service could not be installed, started or stopped
    │   │   ├── PrerequisiteMissing
    │   │   ├── PortInUse
    │   │   ├── ArtifactResolutionFailed
    │   │   └── ServiceUnhealthy
    │   ├── AirflowFailed
    │   └── PipelineStalled
    ├── Rejected(reason)           one record or page a stage refuses: it becomes a dead letter and
    │   │                          the stage goes on; `reason` is a `Reason`, from its stage's set
    │   ├── RecordTooLarge         a record Kafka would refuse now and at every retry
    │   ├── ingest.fetcher.HttpStatusError, ingest.fetcher.Unreachable
    │   └── (transform and the indexer raise Rejected itself)
    └── Backpressure(retry_after)  a sink cannot take the batch now: the consumer loop pauses and
                                   hands it the same batch again later

The CLI prints a `Failure` as is, without a traceback, and exits with its `exit_code`. A
`Rejected` never reaches a person but as a dead letter; `Backpressure` never leaves the loop.
Where one input can make code raise anything (parsers, libraries), `rejected_as(reason, subject)`
turns whatever the block raises into that input's `Rejected`.
"""

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import ClassVar


class NewsflowError(Exception):
    """Base of every error newsflow raises on purpose."""


class Failure(NewsflowError):
    """An error that ends a command or a run; its message is one line that says what to do."""

    exit_code: ClassVar[int] = 1


class ConfigError(Failure):
    """A setting (environment variable or file) or an argument has a value newsflow cannot use."""

    exit_code = 2


class ServiceUnreachable(Failure):
    """Kafka or Elasticsearch does not answer at the configured address."""


class PublishFailed(Failure):
    """Kafka did not acknowledge a record: the run fails (and is retried), never reports success."""


class IngestFailed(Failure):
    """The ingest run of one or more sources failed (Kafka did not acknowledge, a bug); the other
    sources still ran. The command exits 1, the Airflow task fails and is retried."""


class ServiceError(Failure):
    """A local service (Kafka, Elasticsearch) could not be installed, started or stopped."""


class PrerequisiteMissing(ServiceError):
    """A program the local services need (Java, a JDK of some version, Maven) is not installed."""


class PortInUse(ServiceError):
    """A port a local service must listen on is taken by another process."""


class ArtifactResolutionFailed(ServiceError):
    """Maven could not bring a service's artifacts from Maven Central (or the local cache)."""


class ServiceUnhealthy(ServiceError):
    """A service was started but did not become healthy in time, or exited during start-up."""


class AirflowFailed(Failure):
    """Airflow's database could not be set up, or a DAG run did not succeed."""


class PipelineStalled(Failure):
    """A worker of the demo exited, or the pipeline did not catch up with its input in time."""


class QualityAlert(Failure):
    """A source is stale beyond its expected interval, or its reject rate jumped (news_quality)."""


class Reason(StrEnum):
    """Why a stage refused a record or a page: the codes dead letters carry.

    Each stage meets a closed subset of them (`newsflow.deadletters.STAGE_REASONS`, listed in
    docs/contracts.md).
    """

    # ingest: fetching a page
    SSRF_REFUSED = "ssrf_refused"
    ROBOTS_DISALLOWED = "robots_disallowed"
    TOO_LARGE = "too_large"  # over the fetch cap, or a record over NEWSFLOW_KAFKA_MAX_MESSAGE_BYTES
    WRONG_CONTENT_TYPE = "wrong_content_type"
    UNSUPPORTED_CONTENT_ENCODING = "unsupported_content_encoding"  # not gzip or deflate, or several stacked
    UNDECODABLE = "undecodable"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    HTTP_STATUS = "http_status"
    UNREACHABLE = "unreachable"
    FETCH_FAILED = "fetch_failed"  # fetching or decoding raised an error nothing expected (the detail names it)
    # ingest: reading listings; counted in the run's summary, not dead-lettered
    INVALID_LISTING = "invalid_listing"  # a feed, sitemap or listing page that does not parse
    INVALID_ENTRY = "invalid_entry"  # one entry of a listing that gives no usable link
    TOO_MANY_LINKS = "too_many_links"  # over a link cap: left for a later run
    TOO_OLD = "too_old"  # dated before the retention horizon: news_retention dropped such articles
    # any consumer: reading a record into its topic's contract
    NOT_JSON = "not_json"
    SCHEMA_VIOLATION = "schema_violation"
    # transform
    UNPARSABLE_HTML = "unparsable_html"
    EMPTY_BODY = "empty_body"
    TOO_SHORT = "too_short"
    EXTRACTION_FAILED = "extraction_failed"
    EXTRACTION_TIMEOUT = "extraction_timeout"
    # index
    REJECTED = "rejected"  # Elasticsearch refused the document for good (mapping, parse errors)


class Rejected(NewsflowError):
    """One record or page a stage cannot turn into its output: a dead letter, and the stage goes on."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def permanent(self) -> bool:
        """True when the same input would be refused again: trying it again is pointless."""
        return True


@contextmanager
def rejected_as(reason: Reason, subject: str) -> Iterator[None]:
    """Whatever the block raises becomes `Rejected(reason)` about `subject` — the one input that
    made parsing or a library raise — with the error's type, message and the function that raised
    it; a `Rejected` passes as it is."""
    try:
        yield
    except Rejected:
        raise
    except Exception as exc:  # that input's failure, not its stage's: re-raised as a reason
        raised_in = traceback.extract_tb(exc.__traceback__)[-1].name
        raise Rejected(reason, f"{subject}: {one_line(exc)} (in {raised_in})") from exc


def one_line(error: BaseException) -> str:
    """`Type: message` on one line of at most 300 characters of message, even for a pydantic
    ValidationError (many lines) or an error that quotes a huge input."""
    return f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"


class RecordTooLarge(Rejected):
    """A record over NEWSFLOW_KAFKA_MAX_MESSAGE_BYTES: Kafka would refuse it, now and at every retry."""

    def __init__(self, message: str) -> None:
        super().__init__(Reason.TOO_LARGE, message)


class Backpressure(NewsflowError):
    """The sink cannot take the batch now (Elasticsearch away, overloaded): try it again later.

    Raised by a stage's batch handler; the consumer loop pauses its partitions for `retry_after`
    seconds, keeping its group membership, and then hands the handler the same batch again.
    """

    def __init__(self, retry_after: float, message: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after
