"""`newsflow.publisher.within`: a step of a Kafka transaction is given a time, never waited for without a limit."""

import threading

import pytest
from kafka.errors import CommitFailedError, KafkaTimeoutError

from newsflow.publisher import within


def test_a_step_that_returns_in_time_returns():
    done = []
    within(5, lambda: done.append(True), "commit")
    assert done == [True]


def test_a_steps_error_is_raised_in_the_callers_thread():
    def refused() -> None:
        raise CommitFailedError("the group moved on")

    with pytest.raises(CommitFailedError, match="the group moved on"):
        within(5, refused, "offsets")


def test_a_step_that_never_returns_is_given_up_as_a_kafka_timeout_naming_it():
    never = threading.Event()
    with pytest.raises(KafkaTimeoutError, match="commit: Kafka did not answer within 0 s"):
        within(0.05, never.wait, "commit")
    never.set()
