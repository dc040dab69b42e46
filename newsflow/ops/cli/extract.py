"""`newsflow extract`: the transform worker's extraction, run on saved pages instead of news.raw."""

import json
from pathlib import Path
from typing import Annotated

import typer

from newsflow.ops.cli.context import settings_of
from newsflow.ops.cli.terminal import bars, console


def extract(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help="HTML files (.html, .html.gz, named by id) or folders of them.", show_default=False)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object {id: {title, body, authors, ...}}.")] = False,
) -> None:
    """Extract articles from saved pages with the transform worker's own code (nothing is published).

    Each page gets what the worker would publish for it: title, body, authors, lead, language,
    word count, site name and dates with their provenance, or the reason it would be dead-lettered.
    """
    from transform.files import extract_files, page_files

    files = page_files(paths)
    min_words = settings_of(ctx).transform_min_words
    results = {}
    with bars() as progress:
        advance = progress.add("extracting", len(files))
        for done, (page_id, fields) in enumerate(extract_files(files, min_words), start=1):
            results[page_id] = fields
            advance(done, len(files))
    if as_json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return
    for page_id, fields in results.items():
        if "error" in fields:
            console.print(f"{page_id}: {fields['error']}: {fields['detail']}", markup=False)
        else:
            published = (fields["published_at"] or {}).get("value", "no date")
            console.print(
                f"{page_id}: {fields['word_count']} words, {fields['language']}, {published}: {fields['title']}", markup=False
            )
    failed = sum("error" in fields for fields in results.values())
    console.print(f"{len(results)} page(s), {len(results) - failed} article(s), {failed} refused")
