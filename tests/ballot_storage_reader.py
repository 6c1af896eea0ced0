"""Read a database's FILES as the adversary of docs/threat-model.md does: not its rows.

SQLite: the main file's raw bytes (live cells, free pages, freed cells all included) and the
`-wal` file parsed frame by frame (a 32-byte header, then per frame a 24-byte header and one
page; a frame whose "database size after commit" field is non-zero ends a transaction).
PostgreSQL (superuser): every page of a relation through `pageinspect.get_raw_page` (live,
dead and unused tuples alike), the WAL through `pg_walinspect.pg_get_wal_records_info`,
filtered to the relfilenodes of our own relations (other tests share the cluster), and the
WAL's raw bytes (row images included) from the segment files in `pg_wal/`
(`pg_read_binary_file`), which PostgreSQL 15's `pg_walinspect` does not show.

Nothing here knows how Beidui stores things; the tests give it the byte strings to look for.
"""

from __future__ import annotations

import re
import struct
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from core.db import Database
from tests import storage_reader

WAL_HEADER = 32
FRAME_HEADER = 24
PG_PAGE = 8192


# --- SQLite -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WalFrame:
    page_number: int
    commit_size: int  # non-zero on the last frame of a transaction
    page: bytes


def sqlite_path(db: Database) -> Path:
    database = db.engine.url.database
    assert database, "not a file database"
    return Path(database)


def wal_frames(path: Path) -> list[WalFrame]:
    """The valid frames of `<db>-wal` (salts match the header), oldest first."""
    wal = Path(f"{path}-wal")
    data = wal.read_bytes() if wal.exists() else b""
    if len(data) < WAL_HEADER:
        return []
    page_size = struct.unpack(">I", data[8:12])[0]
    salts = data[16:24]
    frames: list[WalFrame] = []
    at = WAL_HEADER
    while at + FRAME_HEADER + page_size <= len(data):
        number, commit = struct.unpack(">II", data[at : at + 8])
        if data[at + 8 : at + 16] != salts:
            break  # left over from before the last reset: not part of this WAL
        page = data[at + FRAME_HEADER : at + FRAME_HEADER + page_size]
        frames.append(WalFrame(number, commit, page))
        at += FRAME_HEADER + page_size
    return frames


def wal_transactions(path: Path) -> list[list[WalFrame]]:
    """Frames grouped by the transaction that committed them."""
    out: list[list[WalFrame]] = []
    current: list[WalFrame] = []
    for frame in wal_frames(path):
        current.append(frame)
        if frame.commit_size:
            out.append(current)
            current = []
    return out


def sqlite_files(db: Database) -> bytes:
    """The main file and the -wal, raw (a reader of the disk sees both)."""
    path = sqlite_path(db)
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


# --- PostgreSQL -----------------------------------------------------------------------------


def pg_prepare(db: Database) -> None:
    """The two contrib extensions, in `public` (they are per database, shared by tests)."""
    with db.engine.begin() as conn:
        for ext in ("pageinspect", "pg_walinspect"):
            found = conn.execute(
                text("SELECT 1 FROM pg_extension WHERE extname = :e"), {"e": ext}
            ).scalar()
            if not found:
                conn.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {ext} SCHEMA public")


def pg_schema(db: Database) -> str:
    with db.engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())


def pg_lsn(db: Database) -> str:
    with db.engine.connect() as conn:
        return str(conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one())


def pg_filenodes(db: Database, tables: Iterable[str]) -> dict[int, str]:
    """relfilenode -> table, for the tables and their TOAST relations (names qualified)."""
    schema = pg_schema(db)
    out: dict[int, str] = {}
    with db.engine.connect() as conn:
        for table in tables:
            rows = conn.execute(
                text(
                    "SELECT pg_relation_filenode(c.oid), pg_relation_filenode(c.reltoastrelid)"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = :s AND c.relname = :t"
                ),
                {"s": schema, "t": table},
            ).one()
            out[int(rows[0])] = table
            if rows[1]:
                out[int(rows[1])] = table
    return out


def pg_pages(db: Database, tables: Iterable[str]) -> dict[str, list[bytes]]:
    """Every page of each table (and its TOAST table), as `get_raw_page` returns it."""
    schema = pg_schema(db)
    out: dict[str, list[bytes]] = {}
    with db.engine.connect() as conn:
        for table in tables:
            names = [f"{schema}.{table}"]
            toast = conn.execute(
                text(
                    "SELECT t.oid::regclass::text FROM pg_class c JOIN pg_namespace n"
                    " ON n.oid = c.relnamespace JOIN pg_class t ON t.oid = c.reltoastrelid"
                    " WHERE n.nspname = :s AND c.relname = :t"
                ),
                {"s": schema, "t": table},
            ).scalar()
            if toast:
                names.append(str(toast))
            pages: list[bytes] = []
            for name in names:
                size = int(
                    conn.execute(text("SELECT pg_relation_size(:r)"), {"r": name}).scalar_one()
                )
                for block in range(size // PG_PAGE):
                    pages.append(
                        bytes(
                            conn.execute(
                                text("SELECT public.get_raw_page(:r, :b)"),
                                {"r": name, "b": block},
                            ).scalar_one()
                        )
                    )
            out[table] = pages
    return out


_REL = re.compile(r"rel \d+/\d+/(\d+)")


@dataclass(frozen=True)
class WalRecord:
    xid: int
    resource_manager: str
    record_type: str
    table: str


def pg_wal_records(db: Database, since_lsn: str, filenodes: dict[int, str]) -> list[WalRecord]:
    """WAL records since `since_lsn` that touch one of `filenodes` (heap changes only)."""
    out: list[WalRecord] = []
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT xid::text::bigint, resource_manager, record_type, block_ref FROM"
                " public.pg_get_wal_records_info(CAST(:a AS pg_lsn), pg_current_wal_flush_lsn())"
                " WHERE resource_manager IN ('Heap', 'Heap2')"
            ),
            {"a": since_lsn},
        )
        for xid, rmgr, rtype, block_ref in rows:
            for node in {int(n) for n in _REL.findall(block_ref or "")}:
                if node in filenodes:
                    out.append(WalRecord(int(xid), rmgr, rtype, filenodes[node]))
    return out


_FILE = re.compile(r"base/\d+/(\d+)")


def pg_follow_rewrites(db: Database, since_lsn: str, filenodes: dict[int, str]) -> dict[int, str]:
    """`filenodes` plus the files a rewrite gave those tables since `since_lsn`, read off the
    WAL as the adversary would: a transaction whose COMMIT drops a file of table T (`VACUUM
    FULL`, `CLUSTER`, `TRUNCATE`) created T's new files (`Storage CREATE` records of the same
    xid). Without this, a table rewritten twice between two looks at `pg_class` (a close
    in one process, the late batch's rewrite in another) hides the writes to the file in
    between."""
    out = dict(filenodes)
    created: dict[int, list[int]] = defaultdict(list)
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT xid::text::bigint, resource_manager, record_type, description FROM"
                " public.pg_get_wal_records_info(CAST(:a AS pg_lsn), pg_current_wal_flush_lsn())"
                " WHERE resource_manager IN ('Storage', 'Transaction')"
            ),
            {"a": since_lsn},
        )
        for xid, rmgr, rtype, description in rows:
            if rmgr == "Storage" and rtype == "CREATE":
                created[int(xid)] += [int(n) for n in _FILE.findall(description or "")]
            elif rmgr == "Transaction" and rtype.startswith("COMMIT"):
                dropped = (description or "").partition("rels:")[2].partition(";")[0]
                tables = {out[n] for n in map(int, _FILE.findall(dropped)) if n in out}
                if len(tables) == 1:
                    (table,) = tables
                    out.update(dict.fromkeys(created.pop(int(xid), []), table))
    return out


def writes_per_transaction(
    records: Sequence[WalRecord], table: str, kinds: Iterable[str]
) -> Counter[int]:
    """How many records of `kinds` (e.g. INSERT) each transaction wrote to `table`."""
    wanted = set(kinds)
    counts: Counter[int] = Counter()
    for r in records:
        if r.table == table and r.record_type.split("+")[0] in wanted:
            counts[r.xid] += 1
    return counts


def pg_wal_bytes(db: Database, since_lsn: str) -> tuple[bytes, str]:
    """The WAL's raw bytes from `since_lsn` to the flushed end, read from the segment files
    as a superuser who can read the data directory would (`storage_reader.wal_bytes`, which
    raises if a segment is gone: a silent gap would let a search for a ballot's bytes pass
    for the wrong reason); returns them and the end LSN (the next call's start). Other
    sessions' records are in there too; a record split by a WAL page header may hide a needle
    (rare, and it can only make a "not in the WAL" check pass that should fail, never the
    reverse)."""
    with db.engine.connect() as conn:
        end_lsn = storage_reader.current_lsn(conn)
        return storage_reader.wal_bytes(conn, since_lsn, end_lsn), end_lsn


# --- what a reader of the storage holds at one moment ---------------------------------------


@dataclass(frozen=True)
class StorageView:
    files: bytes
    """SQLite: the main file and the -wal's pages; PostgreSQL: raw pages of every table."""
    ballot_pages: bytes
    """Where ballots sit: SQLite main file + -wal pages; PostgreSQL: `ballots_table`'s pages."""
    wal_pages: bytes = b""
    """SQLite: the -wal's pages only."""
    wal_commits: int = 0
    """SQLite: how many committed transactions the -wal holds."""
    page_size: int = PG_PAGE
    """`ballot_pages` is whole pages of this size (see `page_positions`)."""


def read_storage(
    db: Database, tables: Sequence[str], ballots_table: str = "sealed_ballots"
) -> StorageView:
    """The files as a disk reader (SQLite) or a superuser (PostgreSQL pages) sees them now.
    SQLite is read from the file only: no connection, so no reader holds up a checkpoint."""
    if db.is_sqlite:
        path = sqlite_path(db)
        frames = wal_frames(path)
        wal = b"".join(f.page for f in frames)
        main = path.read_bytes()
        commits = sum(1 for f in frames if f.commit_size)
        return StorageView(main + wal, main + wal, wal, commits, sqlite_page_size(main))
    pages = pg_pages(db, tables)
    return StorageView(
        b"".join(b"".join(p) for p in pages.values()), b"".join(pages[ballots_table])
    )


# --- positions and order ----------------------------------------------------------------------


def first_positions(blob: bytes, needles: dict[str, bytes]) -> dict[str, int]:
    """Where each needle first occurs in `blob` (absent needles are left out)."""
    out: dict[str, int] = {}
    for name, needle in needles.items():
        at = blob.find(needle)
        if at >= 0:
            out[name] = at
    return out


def sqlite_page_size(main_file: bytes) -> int:
    """The page size in a SQLite main file's header (1 stands for 65,536)."""
    size = int(struct.unpack(">H", main_file[16:18])[0])
    return 65536 if size == 1 else size


def page_positions(blob: bytes, needles: dict[str, bytes], page_size: int) -> dict[str, int]:
    """`first_positions` as a storage order over whole pages (`blob` is pages end to end):
    page by page, and inside a page from its end. Both SQLite (a leaf's cell area) and
    PostgreSQL (a heap page's tuples) fill a page from its end, so a row written later sits
    at a LOWER offset of its page; raw byte offsets would rank a batch that ends on the next
    page as if its order were scrambled. Dead and stale bytes are ranked the same way."""
    return {
        name: (at // page_size) * page_size + (page_size - 1 - at % page_size)
        for name, at in first_positions(blob, needles).items()
    }


def rank(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    for r, i in enumerate(order):
        ranks[i] = float(r)
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rho of two equally long sequences (no ties expected)."""
    n = len(xs)
    if n < 2:
        return 0.0
    rx, ry = rank(xs), rank(ys)
    d2 = sum((a - b) ** 2 for a, b in zip(rx, ry, strict=True))
    return 1 - 6 * d2 / (n * (n * n - 1))


def within_batch_rho(
    positions: dict[str, int], batch_of: dict[str, int], cast_index: dict[str, int]
) -> float:
    """Spearman of storage position vs casting order, pooled WITHIN batches: ranks are taken
    inside each batch, so the (allowed) order of batches does not count."""
    xs: list[float] = []
    ys: list[float] = []
    groups: dict[int, list[str]] = defaultdict(list)
    for name in positions:
        groups[batch_of[name]].append(name)
    for names in groups.values():
        if len(names) < 2:
            continue
        xs.extend(rank([positions[n] for n in names]))
        ys.extend(rank([cast_index[n] for n in names]))
    return spearman(xs, ys)
