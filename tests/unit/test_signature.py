from newsflow.folding import fold
from newsflow.ops.demo.site import SEED_ARTICLE
from transform.signature import content_hash
from transform.signature import near_duplicate_keys as keys_of_folded


def near_duplicate_keys(body: str) -> list[str]:
    return keys_of_folded(fold(body))


SEED = SEED_ARTICLE.read_text(encoding="utf-8")
STORY = SEED.split("Original Author:")[0]


def test_a_syndicated_copy_with_other_boilerplate_shares_band_keys():
    copy = (
        "Reprinted with permission of Orda.kz.\n"
        + STORY.replace("Orda.kz reports", "reports Orda.kz")
        + "\nSubscribe to our newsletter. Follow us on Telegram."
    )
    assert content_hash(copy) != content_hash(STORY)
    assert len(set(near_duplicate_keys(copy)) & set(near_duplicate_keys(STORY))) >= 8


def test_an_unrelated_article_shares_none():
    other = (
        "Snow closed the Almaty ring road on Tuesday morning as temperatures dropped to minus twenty "
        "degrees; the city akimat sent two hundred machines to clear the main avenues before noon. "
    ) * 4
    assert set(near_duplicate_keys(other)).isdisjoint(near_duplicate_keys(STORY))


def test_keys_are_stable_and_bands_are_numbered():
    keys = near_duplicate_keys(STORY)
    assert keys == near_duplicate_keys(STORY)
    assert [key[:2] for key in keys] == [f"{band:02d}" for band in range(16)]
    assert content_hash("a") == content_hash("a") != content_hash("b")


def test_keys_are_the_ones_already_indexed():
    # Articles indexed before meet their copies only through equal keys: a change of datasketch's
    # scheme, seed or hashing, or of the shingles, must fail here, not split stories silently.
    assert near_duplicate_keys(STORY)[:3] == ["00-06974dbec467f736", "01-7d3eb76a2966b24e", "02-76fc74f69c2ab659"]
