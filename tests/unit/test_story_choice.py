"""The stories of `search.stories`, on an in-memory index (tests/fake_index.py) whose searches see
only what was refreshed: every near-duplicate carries its story's first article, across batches,
late originals, re-deliveries and two indexers writing into one story at the same time."""

from datetime import datetime, timedelta
from typing import cast

import pytest
from elasticsearch import Elasticsearch

from newsflow.errors import Backpressure
from newsflow.settings import Settings
from search.stories import Stories
from tests.articles import SEED, T0, article
from tests.fake_index import FakeIndex, written
from transform.contract import DatedBy, NormalizedArticle

BASE = article(0, SEED, published=T0)  # one article made by transform; the tests vary its story fields
HOUR = timedelta(hours=1)


def story_article(n: int, keys: list[str], published: datetime | None = T0, seen: datetime = T0) -> NormalizedArticle:
    return BASE.model_copy(
        update={
            "article_id": id_of(n),
            "near_duplicate_keys": keys,
            "published_at": DatedBy(value=published, source="feed") if published else None,
            "first_seen_at": seen,
        }
    )


def id_of(n: int) -> str:
    return f"{n:064x}"


def indexer(index: FakeIndex) -> Stories:
    """The stories of one indexer on `index`."""
    return Stories(cast(Elasticsearch, index), Settings(), lambda problem: Backpressure(1, problem))


def indexed(index: FakeIndex, *batch: NormalizedArticle) -> None:
    """One batch as the indexer handles it: plan, write (refreshed), settle."""
    stories = indexer(index)
    plan = stories.plan(list(batch))
    stories.settle(plan, written(index, plan, *batch))


def story(index: FakeIndex, article: NormalizedArticle) -> str | None:
    """The story an indexed article points at: its duplicate_of, None for a first; checked against its story_id."""
    source = index.source(article.article_id)
    assert source["story_id"] == (source["duplicate_of"] or article.article_id)
    return source["duplicate_of"]


def stories_of(index: FakeIndex, *articles: NormalizedArticle) -> list[str | None]:
    return [story(index, article) for article in articles]


# No story


def test_an_article_sharing_no_key_with_another_is_a_story_of_its_own():
    index = FakeIndex()
    alone = story_article(1, ["k1", "k2"])
    indexed(index, alone)
    assert index.source(alone.article_id)["story_id"] == alone.article_id and story(index, alone) is None


def test_articles_of_one_batch_sharing_no_key_are_stories_of_their_own():
    index = FakeIndex()
    one, other = story_article(1, ["k1"]), story_article(2, ["k2"], published=T0 + HOUR)
    indexed(index, one, other)
    assert stories_of(index, one, other) == [None, None]


# A later copy


def test_a_later_copy_joins_the_story_of_the_indexed_original():
    index = FakeIndex()
    original = story_article(1, ["k1", "k2"], published=T0)
    copy = story_article(2, ["k2", "k3"], published=T0 + HOUR, seen=T0 + HOUR)
    indexed(index, original)
    indexed(index, copy)
    assert stories_of(index, original, copy) == [None, original.article_id]


def test_a_copy_sharing_a_key_with_a_duplicate_only_joins_the_story_of_that_duplicate():
    index = FakeIndex()
    original = story_article(1, ["k1"], published=T0)
    duplicate = story_article(2, ["k1", "k2"], published=T0 + HOUR)
    copy = story_article(3, ["k2"], published=T0 + 2 * HOUR)
    indexed(index, original)
    indexed(index, duplicate)
    indexed(index, copy)
    assert stories_of(index, duplicate, copy) == [original.article_id, original.article_id]


def test_an_article_linking_two_stories_merges_them_under_the_earlier_first():
    index = FakeIndex()
    first = story_article(1, ["k1"], published=T0)
    second = story_article(2, ["k2"], published=T0 + HOUR)
    second_copy = story_article(3, ["k2"], published=T0 + 2 * HOUR)
    link = story_article(4, ["k1", "k2"], published=T0 + 3 * HOUR)
    indexed(index, first, second)
    indexed(index, second_copy)
    indexed(index, link)
    assert stories_of(index, first, second, second_copy, link) == [None] + [first.article_id] * 3


# Which article is the first


def test_the_earliest_published_wins_over_the_first_seen():
    index = FakeIndex()
    published_first = story_article(1, ["k1"], published=T0, seen=T0 + 5 * HOUR)
    seen_first = story_article(2, ["k1"], published=T0 + HOUR, seen=T0)
    indexed(index, seen_first, published_first)
    assert stories_of(index, published_first, seen_first) == [None, published_first.article_id]


def test_equal_publication_the_first_seen_wins():
    index = FakeIndex()
    seen_first = story_article(2, ["k1"], seen=T0)
    seen_later = story_article(1, ["k1"], seen=T0 + HOUR)
    indexed(index, seen_later, seen_first)
    assert story(index, seen_later) == seen_first.article_id


def test_equal_publication_and_first_sight_the_smaller_id_wins():
    index = FakeIndex()
    smaller, larger = story_article(1, ["k1"]), story_article(2, ["k1"])
    indexed(index, larger, smaller)
    assert stories_of(index, smaller, larger) == [None, smaller.article_id]


@pytest.mark.parametrize("together", [True, False], ids=["one batch", "undated indexed first"])
def test_an_article_without_a_publication_date_comes_after_a_dated_one(together):
    index = FakeIndex()
    undated = story_article(1, ["k1"], published=None, seen=T0 - 5 * HOUR)
    dated = story_article(2, ["k1"], published=T0 + 5 * HOUR, seen=T0 + 5 * HOUR)
    if together:
        indexed(index, undated, dated)
    else:
        indexed(index, undated)
        indexed(index, dated)
    assert stories_of(index, dated, undated) == [None, dated.article_id]


def test_undated_articles_are_ordered_by_first_sight():
    index = FakeIndex()
    seen_first = story_article(2, ["k1"], published=None, seen=T0)
    seen_later = story_article(1, ["k1"], published=None, seen=T0 + HOUR)
    indexed(index, seen_first)
    indexed(index, seen_later)
    assert story(index, seen_later) == seen_first.article_id


# Within a batch and across batches


def test_copies_in_one_batch_join_its_earliest_article_whatever_the_batchs_order():
    index = FakeIndex()
    first, second, third = (story_article(n, ["k1"], published=T0 + n * HOUR) for n in (1, 2, 3))
    indexed(index, third, second, first)
    assert stories_of(index, first, second, third) == [None, first.article_id, first.article_id]


def test_articles_of_one_batch_linked_through_another_of_it_are_one_story():
    index = FakeIndex()
    first = story_article(1, ["k1"], published=T0)
    link = story_article(2, ["k1", "k2"], published=T0 + HOUR)
    last = story_article(3, ["k2"], published=T0 + 2 * HOUR)
    indexed(index, last, link, first)
    assert stories_of(index, link, last) == [first.article_id, first.article_id]


# An original crawled after its copies


def test_an_original_crawled_after_its_copies_becomes_the_first_and_the_whole_story_re_points():
    index = FakeIndex()
    copy = story_article(1, ["k1"], published=T0 + HOUR, seen=T0)
    copy_of_copy = story_article(2, ["k1", "k2"], published=T0 + 2 * HOUR, seen=T0)
    original = story_article(3, ["k1"], published=T0, seen=T0 + 3 * HOUR)
    indexed(index, copy)
    indexed(index, copy_of_copy)
    indexed(index, original)
    assert stories_of(index, original, copy, copy_of_copy) == [None, original.article_id, original.article_id]


def test_an_article_joining_a_predated_story_through_a_copy_points_at_the_original():
    index = FakeIndex()
    former_first = story_article(1, ["k1"], published=T0 + HOUR)
    copy = story_article(2, ["k1", "k2"], published=T0 + 2 * HOUR)
    original = story_article(3, ["k1"], published=T0, seen=T0 + 3 * HOUR)
    later = story_article(4, ["k2"], published=T0 + 4 * HOUR, seen=T0 + 4 * HOUR)  # shares a key with the copy only
    indexed(index, former_first, copy)
    indexed(index, original)
    indexed(index, later)
    assert stories_of(index, former_first, copy, later) == [original.article_id] * 3


def test_two_originals_predating_one_story_join_the_earliest():
    index = FakeIndex()
    story_first = story_article(1, ["k1", "k2"], published=T0 + 2 * HOUR)
    earliest = story_article(2, ["k1"], published=T0, seen=T0 + 3 * HOUR)
    second = story_article(3, ["k2"], published=T0 + HOUR, seen=T0 + 3 * HOUR)
    indexed(index, story_first)
    indexed(index, second, earliest)
    assert stories_of(index, earliest, second, story_first) == [None, earliest.article_id, earliest.article_id]


# Re-deliveries


def test_a_redelivered_first_stays_the_first_of_its_story():
    index = FakeIndex()
    first, copy = story_article(1, ["k1"]), story_article(2, ["k1"], published=T0 + HOUR)
    indexed(index, first)
    indexed(index, copy)
    indexed(index, first)
    assert stories_of(index, first, copy) == [None, first.article_id]


def test_a_redelivered_duplicate_keeps_its_story():
    index = FakeIndex()
    first, copy = story_article(1, ["k1"]), story_article(2, ["k1"], published=T0 + HOUR)
    indexed(index, first)
    indexed(index, copy)
    indexed(index, copy)
    assert story(index, copy) == first.article_id


# Two indexers writing into one story at the same time


@pytest.mark.parametrize("settling_first", ["earlier", "later"])
def test_near_duplicates_written_by_two_indexers_at_once_end_in_one_story(settling_first):
    index = FakeIndex()
    earlier = story_article(1, ["k1", "k2"], published=T0)
    later = story_article(2, ["k2", "k3"], published=T0 + HOUR)
    one, other = indexer(index), indexer(index)
    earlier_plan, later_plan = one.plan([earlier]), other.plan([later])  # neither sees the other's article
    assert earlier_plan.stories == {earlier.article_id: earlier.article_id}
    assert later_plan.stories == {later.article_id: later.article_id}
    written(index, earlier_plan, earlier)
    written(index, later_plan, later)
    settles = [(one, earlier_plan, earlier), (other, later_plan, later)]
    for stories, plan, article_written in settles if settling_first == "earlier" else reversed(settles):
        stories.settle(plan, [article_written])
    assert stories_of(index, earlier, later) == [None, earlier.article_id]


def test_an_article_written_into_a_story_while_it_is_re_pointed_is_re_pointed_too():
    index = FakeIndex()
    copy = story_article(1, ["k1", "k2"], published=T0 + HOUR)
    original = story_article(2, ["k1"], published=T0, seen=T0 + 2 * HOUR)
    late_copy = story_article(3, ["k2"], published=T0 + 3 * HOUR, seen=T0 + 3 * HOUR)
    indexed(index, copy)
    one, other = indexer(index), indexer(index)
    late_plan = other.plan([late_copy])  # joins the copy's story, before the original arrives
    assert late_plan.stories == {late_copy.article_id: copy.article_id}
    original_plan = one.plan([original])
    assert original_plan.merges == {copy.article_id: original.article_id}
    written(index, original_plan, original)

    def late_copy_settled_after_the_search_of_the_merge() -> None:
        # Written after the merge's search, and checked before its updates: the check sees nothing
        # to merge, since the copy still carries its old story.
        other.settle(late_plan, written(index, late_plan, late_copy))
        assert story(index, late_copy) == copy.article_id

    index.after_next_search = late_copy_settled_after_the_search_of_the_merge
    one.settle(original_plan, [original])  # the merge's next search finds the late copy
    assert stories_of(index, original, copy, late_copy) == [None, original.article_id, original.article_id]


def test_an_article_written_with_a_story_merged_since_is_re_pointed_by_its_own_indexers_check():
    index = FakeIndex()
    copy = story_article(1, ["k1", "k2"], published=T0 + HOUR)
    original = story_article(2, ["k1"], published=T0, seen=T0 + 2 * HOUR)
    late_copy = story_article(3, ["k2"], published=T0 + 3 * HOUR, seen=T0 + 3 * HOUR)
    indexed(index, copy)
    other = indexer(index)
    late_plan = other.plan([late_copy])  # joins the copy's story, planned before the original arrives
    indexed(index, original)  # the merge is over before the late copy is written
    other.settle(late_plan, written(index, late_plan, late_copy))
    assert stories_of(index, copy, late_copy) == [original.article_id, original.article_id]


# Stories whose ids lead elsewhere


def test_a_first_refused_for_good_leaves_its_story_to_the_next_earliest():
    index = FakeIndex()
    refused = story_article(1, ["k1"], published=T0)
    copy, later_copy = story_article(2, ["k1"], published=T0 + HOUR), story_article(3, ["k1"], published=T0 + 2 * HOUR)
    stories = indexer(index)
    plan = stories.plan([refused, copy, later_copy])
    assert set(plan.stories.values()) == {refused.article_id}
    stories.settle(plan, written(index, plan, copy, later_copy))  # Elasticsearch refused the first
    assert stories_of(index, copy, later_copy) == [None, copy.article_id]


def test_a_story_id_leading_to_a_duplicate_is_followed_to_its_first_and_re_pointed():
    index = FakeIndex()
    first = story_article(1, ["k1"], published=T0)
    duplicate = story_article(2, ["k1", "k2"], published=T0 + HOUR)
    copy_of_duplicate = story_article(3, ["k2", "k3"], published=T0 + 2 * HOUR)
    indexed(index, first, duplicate, copy_of_duplicate)
    index.source(copy_of_duplicate.article_id).update(story_id=duplicate.article_id, duplicate_of=duplicate.article_id)
    index.refresh()  # as an index from before story_id kept it: a copy pointing at a copy
    later = story_article(4, ["k3"], published=T0 + 3 * HOUR)
    indexed(index, later)
    assert stories_of(index, copy_of_duplicate, later) == [first.article_id, first.article_id]


# What a batch costs


def test_a_batch_that_merges_nothing_costs_two_searches_and_one_look_up():
    index = FakeIndex()
    original = story_article(1, ["k1"])
    indexed(index, original)
    index.requests.clear()
    indexed(index, story_article(2, ["k1"], published=T0 + HOUR), story_article(3, ["k9"]))
    assert index.requests == ["msearch", "mget", "bulk", "msearch"]  # plan: search, follow; write; check
