"""transform.worker's `_deadline`: what a page's extraction may end in besides an article."""

import time

import pytest

from newsflow.errors import Reason, Rejected
from transform.worker import _deadline


def test_a_crash_inside_extraction_is_the_pages_extraction_failed_on_one_line():
    def parse() -> None:
        raise ValueError("line one\nline two")

    with pytest.raises(Rejected) as refused, _deadline(5, "https://example.org/a"):
        parse()
    assert refused.value.reason is Reason.EXTRACTION_FAILED
    assert str(refused.value) == "https://example.org/a: ValueError: line one line two (in parse)"


def test_extraction_past_the_deadline_is_extraction_timeout():
    with pytest.raises(Rejected) as refused, _deadline(0.05, "https://example.org/b"):
        time.sleep(1)
    assert refused.value.reason is Reason.EXTRACTION_TIMEOUT


def test_a_rejection_inside_passes_as_it_is():
    with pytest.raises(Rejected) as refused, _deadline(5, "https://example.org/c"):
        raise Rejected(Reason.TOO_SHORT, "short")
    assert refused.value.reason is Reason.TOO_SHORT
