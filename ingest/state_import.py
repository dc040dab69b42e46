"""The one-time import of an earlier version's ingest state, a SQLite file per machine, into the shared store.

`import_sqlite_once` goes through these steps when NEWSFLOW_INGEST_STATE_SQLITE (default
`<state dir>/ingest.sqlite3`) exists:

1. Read each table the file has (articles, failures, runs, horizon, polls, listings), each row
   becoming the document the store keeps for it (same field names; times were already ISO 8601).
2. Create those documents that do not exist yet (`op_type=create`): what a worker already wrote to
   the shared store is newer than the file, and an import that was cut short is simply done again.
3. Rename the file to `<name>.imported`, so it is not imported again (and kept, should anyone want it).
"""

import logging
import sqlite3
from contextlib import closing, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsflow.settings import Settings

if TYPE_CHECKING:
    from ingest.state import SeenStore

log = logging.getLogger(__name__)

TABLES = {  # table → (kind of document, the column that is its key: None for the single horizon)
    "articles": ("article", "url"),
    "failures": ("failure", "url"),
    "runs": ("run", "source_id"),
    "horizon": ("horizon", None),
    "polls": ("poll", "source_id"),
    "listings": ("listing", "url"),
}
KEPT_KEYS = {"source_id"}  # key columns the store also keeps as a field


def import_sqlite_once(settings: Settings, store: "SeenStore") -> int:
    """Import the SQLite state file, if there is one, and mark it imported; how many documents were created."""
    path = settings.ingest_state_sqlite
    if path is None or not path.is_file():
        return 0
    documents = sqlite_documents(path)
    created = store.put_many(documents)
    with suppress(FileNotFoundError):  # another process of this machine imported it at the same time
        path.rename(path.with_name(path.name + ".imported"))
    log.info("ingest state: imported %s (%d rows, %d new to %s)", path, len(documents), created, settings.ingest_state_index)
    return created


def sqlite_documents(path: Path) -> list[dict[str, Any]]:
    """Step 1: the store's documents for the rows of the file's tables."""
    documents = []
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        present = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, (kind, key) in TABLES.items():
            if table not in present:
                continue
            for row in db.execute(f"SELECT * FROM {table}"):  # a name of TABLES
                # a sqlite3.Row iterates its values: its column names are its keys()
                fields = {name: row[name] for name in row.keys() if name != "single" and (name != key or name in KEPT_KEYS)}  # noqa: SIM118
                documents.append({"kind": kind, "key": row[key] if key else "", **fields})
    return documents
