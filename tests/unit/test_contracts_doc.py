from pathlib import Path

import pytest

from ingest.contract import Discovery, RawArticle
from newsflow.deadletters import DeadLetter
from transform.contract import NormalizedArticle
from search.indexer import Reason as IndexReason
from transform.normalize import Reason

DOC = (Path(__file__).parents[2] / "docs" / "contracts.md").read_text()


@pytest.mark.parametrize("model", [RawArticle, Discovery, NormalizedArticle, DeadLetter])
def test_every_field_is_documented(model):
    assert [name for name in model.model_fields if f"`{name}`" not in DOC] == []


@pytest.mark.parametrize("reasons", [Reason, IndexReason])
def test_every_dead_letter_reason_is_documented(reasons):
    assert [reason.value for reason in reasons if f"`{reason.value}`" not in DOC] == []
