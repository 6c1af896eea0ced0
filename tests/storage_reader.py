"""Read database storage as the adversary does: the files and pages, not the rows.

The project team can read the whole database -- which means the files a database keeps, not
only what `SELECT` returns. These readers give tests that view:

SQLite (file format: https://www.sqlite.org/fileformat2.html)
- `read_wal`: every frame of a `-wal` file, including frames of an older generation that a
  checkpoint RESTART/TRUNCATE left behind (their salts differ from the header's), since a
  reader of the file sees those too;
- `wal_commits`: the frames grouped into the transactions that wrote them (a commit frame
  carries the database size after the commit);
- `free_pages`: the pages on the main file's freelist (trunk and leaf pages), whose old
  contents `secure_delete` may or may not have zeroed;
- `database_files`: the bytes of the main file and of every side file that exists.

PostgreSQL (superuser; extensions `pageinspect` and `pg_walinspect`)
- `ensure_extensions` / `ext_schema`: create the extensions once per database (several
  test sessions share the server) and name the schema their functions live in;
- `relation_pages`, `heap_items`: every block of a relation through `get_raw_page`, and its
  line pointers with their `xmin` and raw tuple data through `heap_page_items`, dead row
  versions included;
- `wal_records`: the records `pg_get_wal_records_info` decodes from an LSN on, filtered to
  the given relations' file nodes (other sessions write to the same server meanwhile);
- `wal_bytes`: the raw WAL segment bytes between two LSNs (`pg_read_binary_file`), to search
  for plain text the decoded view does not show (PostgreSQL 15 has no record payloads in
  pg_walinspect).

Nothing here writes to a database except `ensure_extensions`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, text

# --- SQLite --------------------------------------------------------------------------------

WAL_HEADER_SIZE = 32
WAL_FRAME_HEADER_SIZE = 24
WAL_MAGIC = (0x377F0682, 0x377F0683)
SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class WalHeader:
    page_size: int
    checkpoint_sequence: int
    salt1: int
    salt2: int


@dataclass(frozen=True)
class WalFrame:
    """One frame of a `-wal`: the full image of one database page as a transaction left it."""

    index: int  # 0-based position in the file
    page_no: int
    # The database size in pages after the commit, for a transaction's last frame; else 0.
    commit_size: int
    # True when the frame belongs to the header's generation (SQLite would replay it);
    # stale frames from before a checkpoint restart are still in the file, and still readable.
    is_current: bool
    data: bytes

    @property
    def is_commit(self) -> bool:
        return self.commit_size != 0


def read_wal(path: Path) -> tuple[WalHeader | None, list[WalFrame]]:
    """The header and every whole frame of a `-wal` file (none if it is absent or empty)."""
    if not path.exists():
        return None, []
    blob = path.read_bytes()
    if len(blob) < WAL_HEADER_SIZE:
        return None, []
    magic, _version, page_size, seq, salt1, salt2 = struct.unpack(">6I", blob[:24])
    if magic not in WAL_MAGIC:
        raise ValueError(f"{path} is not a SQLite WAL file (magic {magic:#x})")
    header = WalHeader(page_size, seq, salt1, salt2)
    frames: list[WalFrame] = []
    offset = WAL_HEADER_SIZE
    step = WAL_FRAME_HEADER_SIZE + page_size
    while offset + step <= len(blob):
        page_no, commit_size, f_salt1, f_salt2 = struct.unpack(">4I", blob[offset : offset + 16])
        data = blob[offset + WAL_FRAME_HEADER_SIZE : offset + step]
        is_current = (f_salt1, f_salt2) == (salt1, salt2)
        frames.append(WalFrame(len(frames), page_no, commit_size, is_current, data))
        offset += step
    return header, frames


def wal_commits(frames: list[WalFrame], *, current_only: bool = False) -> list[list[WalFrame]]:
    """Frames grouped by the transaction that wrote them, in file (= commit) order.

    Frames after the last commit frame belong to no committed transaction and are returned
    as a final group too: a reader of the file sees them all the same.
    """
    groups: list[list[WalFrame]] = []
    group: list[WalFrame] = []
    for frame in frames:
        if current_only and not frame.is_current:
            continue
        group.append(frame)
        if frame.is_commit:
            groups.append(group)
            group = []
    if group:
        groups.append(group)
    return groups


def _page_size(header: bytes) -> int:
    size = struct.unpack(">H", header[16:18])[0]
    return 65536 if size == 1 else int(size)


def free_pages(path: Path) -> list[tuple[int, bytes]]:
    """(page number, bytes) of every page on the main file's freelist, trunks first.

    Read from the main file only: pages a transaction freed but no checkpoint has copied
    back yet are in the `-wal` (see `read_wal`).
    """
    blob = path.read_bytes()
    if len(blob) < 100:
        return []
    size = _page_size(blob)
    trunk, _count = struct.unpack(">II", blob[32:40])

    def page(no: int) -> bytes:
        return blob[(no - 1) * size : no * size]

    out: list[tuple[int, bytes]] = []
    seen: set[int] = set()
    while trunk and trunk not in seen and trunk * size <= len(blob):
        seen.add(trunk)
        data = page(trunk)
        out.append((trunk, data))
        next_trunk, n_leaves = struct.unpack(">II", data[:8])
        for i in range(n_leaves):
            (leaf,) = struct.unpack(">I", data[8 + 4 * i : 12 + 4 * i])
            if leaf * size <= len(blob):
                out.append((leaf, page(leaf)))
        trunk = next_trunk
    return out


def database_files(path: Path) -> dict[str, bytes]:
    """The main file and each side file (`-wal`, `-shm`, `-journal`) that exists, by name."""
    out = {path.name: path.read_bytes()}
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            out[side.name] = side.read_bytes()
    return out


def find_all(blob: bytes, needle: bytes) -> list[int]:
    """Every offset at which `needle` occurs in `blob`."""
    out: list[int] = []
    at = blob.find(needle)
    while at != -1:
        out.append(at)
        at = blob.find(needle, at + 1)
    return out


# --- PostgreSQL ----------------------------------------------------------------------------

PG_EXTENSIONS = ("pageinspect", "pg_walinspect")


def ensure_extensions(url: str) -> None:
    """Create the inspection extensions in `public` unless the database already has them.

    Several sessions share the server, so a concurrent CREATE may win the race: that is fine.
    """
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in PG_EXTENSIONS:
                try:
                    conn.execute(text(f"CREATE EXTENSION IF NOT EXISTS {name} SCHEMA public"))
                except Exception:
                    if ext_schema(conn, name) is None:
                        raise
    finally:
        admin.dispose()


def ext_schema(conn: Connection, name: str) -> str | None:
    """The schema holding an extension's functions (qualify calls with it)."""
    found = conn.execute(
        text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = :n"),
        {"n": name},
    ).scalar()
    return None if found is None else str(found)


def _fn(conn: Connection, extension: str, function: str) -> str:
    schema = ext_schema(conn, extension)
    if schema is None:
        raise RuntimeError(f"extension {extension} is not installed (call ensure_extensions)")
    return f"{schema}.{function}"


def relfilenode_tag(conn: Connection, relation: str) -> str:
    """`tablespace/database/filenode` as pg_walinspect's block references spell it."""
    row = conn.execute(
        text(
            "SELECT CASE WHEN c.reltablespace = 0 THEN"
            " (SELECT dattablespace FROM pg_database WHERE datname = current_database())"
            " ELSE c.reltablespace END,"
            " (SELECT oid FROM pg_database WHERE datname = current_database()),"
            " pg_relation_filenode(c.oid)"
            " FROM pg_class c WHERE c.oid = CAST(:r AS regclass)"
        ),
        {"r": relation},
    ).one()
    return f"{row[0]}/{row[1]}/{row[2]}"


def relations_of(conn: Connection, table: str) -> list[str]:
    """The table, its indexes and its TOAST table and index: every file its rows reach."""
    rows = conn.execute(
        text(
            "SELECT CAST(:t AS regclass)::text"
            " UNION ALL SELECT indexrelid::regclass::text FROM pg_index"
            "  WHERE indrelid = CAST(:t AS regclass)"
            " UNION ALL SELECT reltoastrelid::regclass::text FROM pg_class"
            "  WHERE oid = CAST(:t AS regclass) AND reltoastrelid <> 0"
            " UNION ALL SELECT indexrelid::regclass::text FROM pg_index"
            "  WHERE indrelid = (SELECT reltoastrelid FROM pg_class"
            "   WHERE oid = CAST(:t AS regclass)) "
        ),
        {"t": table},
    ).all()
    return [str(r[0]) for r in rows]


def relation_pages(conn: Connection, relation: str) -> list[tuple[int, bytes]]:
    """(block number, raw 8 kB page) for every block of the relation's main fork."""
    block = int(conn.execute(text("SELECT current_setting('block_size')")).scalar_one())
    size = int(
        conn.execute(
            text("SELECT pg_relation_size(CAST(:r AS regclass))"), {"r": relation}
        ).scalar_one()
    )
    get_raw_page = _fn(conn, "pageinspect", "get_raw_page")
    return [
        (
            blk,
            bytes(
                conn.execute(
                    text(f"SELECT {get_raw_page}(CAST(:r AS text), :b)"), {"r": relation, "b": blk}
                ).scalar_one()
            ),
        )
        for blk in range(size // block)
    ]


@dataclass(frozen=True)
class HeapItem:
    """One line pointer of a heap page: live, dead or reused row version alike."""

    block: int
    lp: int
    xmin: int | None
    xmax: int | None
    data: bytes  # the tuple's raw user data (empty for an unused pointer)


def heap_items(conn: Connection, relation: str) -> list[HeapItem]:
    """Every line pointer of every page, in physical (block, line pointer) order."""
    heap_page_items = _fn(conn, "pageinspect", "heap_page_items")
    out: list[HeapItem] = []
    for blk, page in relation_pages(conn, relation):
        for lp, xmin, xmax, data in conn.execute(
            text(f"SELECT lp, t_xmin, t_xmax, t_data FROM {heap_page_items}(:p) ORDER BY lp"),
            {"p": page},
        ):
            out.append(
                HeapItem(
                    blk,
                    int(lp),
                    None if xmin is None else int(xmin),
                    None if xmax is None else int(xmax),
                    bytes(data or b""),
                )
            )
    return out


def current_lsn(conn: Connection) -> str:
    """The WAL position flushed to disk now (start a test's window here)."""
    return str(conn.execute(text("SELECT pg_current_wal_flush_lsn()")).scalar_one())


@dataclass(frozen=True)
class WalRecord:
    lsn: str
    xid: int
    resource_manager: str
    record_type: str
    block_ref: str
    description: str


def wal_records(conn: Connection, start_lsn: str, tags: list[str]) -> list[WalRecord]:
    """Decoded WAL records from `start_lsn` to the flushed end that touch any of `tags`
    (`relfilenode_tag`), plus every COMMIT record, in WAL order."""
    fn = _fn(conn, "pg_walinspect", "pg_get_wal_records_info")
    rows = conn.execute(
        text(
            "SELECT start_lsn::text, xid::text::bigint, resource_manager, record_type,"
            " coalesce(block_ref, ''), coalesce(description, '')"
            f" FROM {fn}(CAST(:s AS pg_lsn), pg_current_wal_flush_lsn())"
        ),
        {"s": start_lsn},
    ).all()
    out: list[WalRecord] = []
    for lsn, xid, rmgr, rtype, block_ref, desc in rows:
        is_commit = rmgr == "Transaction" and str(rtype).startswith("COMMIT")
        if is_commit or any(f"rel {tag} " in f"{block_ref} " for tag in tags):
            out.append(WalRecord(str(lsn), int(xid), str(rmgr), str(rtype), block_ref, desc))
    return out


def wal_bytes(conn: Connection, start_lsn: str, end_lsn: str | None = None) -> bytes:
    """The raw bytes of the WAL segment files between two LSNs (end: the flushed end)."""
    end = end_lsn or current_lsn(conn)
    seg_size = int(
        conn.execute(
            text("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'")
        ).scalar_one()
    )
    rows: Any = conn.execute(
        text(
            "SELECT a.file_name, a.file_offset, b.file_name, b.file_offset"
            " FROM pg_walfile_name_offset(CAST(:s AS pg_lsn)) a,"
            " pg_walfile_name_offset(CAST(:e AS pg_lsn)) b"
        ),
        {"s": start_lsn, "e": end},
    ).one()
    first, first_off, last, last_off = str(rows[0]), int(rows[1]), str(rows[2]), int(rows[3])
    timeline, high, low = first[:8], int(first[8:16], 16), int(first[16:], 16)
    per_high = 0x100000000 // seg_size
    chunks: list[bytes] = []
    name = first
    while True:
        start = first_off if name == first else 0
        stop = last_off if name == last else seg_size
        length = max(stop - start, 0)
        chunk = conn.execute(
            text("SELECT pg_read_binary_file(:f, :o, :n, true)"),
            {"f": f"pg_wal/{name}", "o": start, "n": length},
        ).scalar()
        if chunk is None or len(chunk) != length:
            raise RuntimeError(f"WAL segment {name} is gone or short: cannot read the WAL")
        chunks.append(bytes(chunk))
        if name == last:
            return b"".join(chunks)
        low += 1
        if low >= per_high:
            high, low = high + 1, 0
        name = f"{timeline}{high:08X}{low:08X}"
