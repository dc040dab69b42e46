from pathlib import Path

from newsflow.settings import Settings

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_documented():
    undocumented = [name for name in Settings.model_fields if f"`NEWSFLOW_{name.upper()}`" not in README]
    assert undocumented == []
