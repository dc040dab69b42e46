import re
from pathlib import Path

import pytest

from ingest.contract import Discovery, RawArticle
from newsflow.deadletters import STAGE_REASONS, DeadLetter
from transform.contract import NormalizedArticle

DOC = (Path(__file__).parents[2] / "docs" / "contracts.md").read_text()


@pytest.mark.parametrize("model", [RawArticle, Discovery, NormalizedArticle, DeadLetter])
def test_every_field_is_documented(model):
    assert [name for name in model.model_fields if f"`{name}`" not in DOC] == []


@pytest.mark.parametrize("stage", list(STAGE_REASONS))
def test_every_dead_letter_reason_of_each_stage_is_documented(stage):
    paragraph = next(part for part in DOC.split("\n\n") if part.startswith(f"Reasons of `{stage}`"))
    documented = set(re.findall(r"`([a-z_]+)`", paragraph.split(":", 1)[1])) - {"NEWSFLOW_TRANSFORM_MIN_WORDS"}
    assert {reason.value for reason in STAGE_REASONS[stage]} <= documented
