"""What Elasticsearch's refusals mean to the indexer: for now (wait and send the same again) or for good."""

TRANSIENT_STATUSES = {429, 500, 502, 503, 504}
# The error of every block, whatever its status (403 for a write or read-only block, 429 for a full
# disk): an operator or Elasticsearch itself lifts it, and the same request then succeeds.
BLOCKED = "cluster_block_exception"


def refused_for_now(status: int, error_type: str | None) -> bool:
    """Whether Elasticsearch would take the same request later: it is overloaded or unavailable, or
    the index is blocked; never the document's fault."""
    return status in TRANSIENT_STATUSES or error_type == BLOCKED


def described(answer: dict) -> str:
    """A failed bulk item, search or get, for people: its status and error."""
    error = answer.get("error", {})
    return f"{answer.get('status')} {error.get('type')}: {error.get('reason')}"
