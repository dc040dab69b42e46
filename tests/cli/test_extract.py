"""`newsflow extract` on saved pages: the transform worker's own result, as JSON."""

import gzip
import json

from newsflow.ops.demo.site import seed_article, seed_article_page
from tests.helpers import run_newsflow


def test_extract_prints_each_pages_article_and_the_reason_a_page_is_refused(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "seed.html.gz").write_bytes(gzip.compress(seed_article_page()))
    (pages / "empty.html").write_bytes(b"<html><body><nav><a href='/'>Home</a></nav></body></html>")
    (pages / "notes.txt").write_text("not a page")

    done = run_newsflow("extract", "--json", str(pages))
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert set(results) == {"seed", "empty"}
    title, paragraphs, author, _ = seed_article()
    seed = results["seed"]
    assert (seed["title"], seed["authors"], seed["language"]) == (title, [author], "en")
    assert seed["body"] == "\n".join(paragraphs)
    assert results["empty"]["error"] in {"empty_body", "too_short"}

    readable = run_newsflow("extract", str(pages / "seed.html.gz"))
    assert readable.returncode == 0 and f"seed: {seed['word_count']} words, en, no date: {title}" in readable.stdout


def test_extract_names_a_missing_path_in_one_line(tmp_path):
    done = run_newsflow("extract", str(tmp_path / "missing"))
    assert done.returncode == 2 and done.stderr.strip() == f"newsflow: error: {tmp_path / 'missing'}: no such file or folder"
