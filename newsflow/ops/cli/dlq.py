"""`newsflow dlq`: list, show and redrive the dead letters on news.dlq (newsflow.ops.dlq does the reading and sending)."""

from typing import Annotated

import typer

from newsflow.errors import ConfigError, Failure
from newsflow.ops.cli.context import settings_of
from newsflow.ops.cli.terminal import console

dlq_app = typer.Typer(
    help="Dead letters (news.dlq): what a stage could not process, and why. Letters are named by "
    "their place on the topic, PARTITION:OFFSET.",
    no_args_is_help=True,
)

LetterPositions = Annotated[
    list[str] | None, typer.Argument(help="Letters as PARTITION:OFFSET (see `dlq list`).", show_default=False)
]
StageOption = Annotated[str | None, typer.Option("--stage", help="Only letters of this stage: ingest, transform or index.")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Only letters with this reason code, e.g. too_short.")]
SourceOption = Annotated[str | None, typer.Option("--source", help="Only letters about articles of this source id.")]


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    stage: StageOption = None,
    reason: ReasonOption = None,
    source: SourceOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show the most recent N.")] = 50,
) -> None:
    """List dead letters, most recent last: place, time, stage/reason, source, URL or detail."""
    from newsflow.ops.dlq import read_letters, select

    letters = select(read_letters(settings_of(ctx)), stage=stage, reason=reason, source_id=source)
    letters.sort(key=lambda stored: stored.written_at)
    for stored in letters[-limit:]:
        letter = stored.letter
        if letter is None:
            console.print(f"{stored.position:>8}  {stored.written_at:%Y-%m-%d %H:%M:%S}  (not a dead letter)")
            continue
        console.print(
            f"{stored.position:>8}  {stored.written_at:%Y-%m-%d %H:%M:%S}  {letter.stage}/{letter.reason}  "
            f"{letter.source_id or '-'}  {letter.url or letter.detail}",
            markup=False,
        )
    console.print(f"{len(letters)} letter(s)" + (f", the last {limit} shown" if len(letters) > limit else ""))


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context,
    position: Annotated[str, typer.Argument(help="The letter, as PARTITION:OFFSET.")],
    full: Annotated[
        bool, typer.Option("--full", help="Print the original record whole, not its first 2,000 characters.")
    ] = False,
) -> None:
    """Print one dead letter as JSON: stage, reason, detail, article, origin and the original record."""
    from newsflow.ops.dlq import read_letters, select

    (stored,) = select(read_letters(settings_of(ctx)), [position])
    if stored.letter is None:
        raise Failure(f"the record at {position} is not a dead letter")
    letter = stored.letter
    if letter.original and not full and len(letter.original) > 2000:
        letter = letter.model_copy(
            update={"original": letter.original[:2000] + f"… ({len(letter.original)} characters; --full shows all)"}
        )
    console.print_json(letter.model_dump_json())


@dlq_app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    positions: LetterPositions = None,
    stage: StageOption = None,
    reason: ReasonOption = None,
    source: SourceOption = None,
    all_letters: Annotated[bool, typer.Option("--all", help="Every letter (that matches the filters).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be sent back.")] = False,
) -> None:
    """Send chosen dead letters back to the stage that failed them, once the cause is fixed.

    Transform and index letters: their original record goes back to the topic it was read from.
    Ingest letters: the page is fetched again at the source's next ingest run. Downstream is
    idempotent, so a letter redriven twice stores nothing twice.
    """
    from newsflow.ops.dlq import read_letters, redrive, select

    if not (positions or stage or reason or source or all_letters):
        raise ConfigError("choose letters: PARTITION:OFFSET arguments, --stage, --reason, --source, or --all")
    settings = settings_of(ctx)
    chosen = select(read_letters(settings), positions or [], stage, reason, source)
    if dry_run:
        console.print(f"would redrive {len(chosen)} letter(s): {', '.join(stored.position for stored in chosen) or 'none'}")
        return
    done = redrive(settings, chosen)
    resent = ", ".join(f"{count} to {topic}" for topic, count in sorted(done.resent.items())) or "none resent"
    console.print(
        f"redrove {len(chosen) - len(done.impossible)} letter(s): {resent}; "
        f"{done.refetch} page(s) to fetch again at the next ingest run"
    )
    if done.impossible:
        console.print(f"not redrivable (their record was too large to keep): {', '.join(done.impossible)}")
