from pathlib import Path

import pytest

from ingest.contract import Discovery, RawArticle
from newsflow.deadletters import DeadLetter
from transform.contract import NormalizedArticle
from transform.normalize import Reason

DOC = (Path(__file__).parents[2] / "docs" / "contracts.md").read_text()


@pytest.mark.parametrize("model", [RawArticle, Discovery, NormalizedArticle, DeadLetter])
def test_every_field_is_documented(model):
    assert [name for name in model.model_fields if f"`{name}`" not in DOC] == []


def test_every_transform_reason_is_documented():
    assert [reason.value for reason in Reason if f"`{reason.value}`" not in DOC] == []
