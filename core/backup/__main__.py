"""`python -m core.backup export CODE --out FILE` / `python -m core.backup import FILE`.

The command line around `dump.export_archive` and `restore.import_archive`: it opens the
instance, writes archives owner-only, and prints results and errors in BEIDUI_LANG.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from core.backup.dump import export_archive
from core.backup.restore import import_archive
from core.ballot_values import join_code
from core.errors import BeiduiError
from core.i18n import t, tm
from core.instance import open_instance


def _write_owner_only(path: Path, data: bytes) -> None:
    # The archive holds the passphrase hash and the wrapped box key: owner-only, atomically.
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    lang = os.environ.get("BEIDUI_LANG", "zh")
    parser = argparse.ArgumentParser(prog="python -m core.backup")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write one workshop to an archive")
    exp.add_argument("code")
    exp.add_argument("--out", required=True, type=Path)
    imp = sub.add_parser("import", help="restore a workshop from an archive")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--void-unused-cards",
        action="store_true",
        help="import even if unused cards cannot verify here; they are voided",
    )
    args = parser.parse_args(argv)

    inst = open_instance()
    try:
        if args.command == "export":
            data = export_archive(inst.db, args.code, secret_key=inst.secret_key)
            _write_owner_only(args.out, data)
            print(t("backup.cli.exported", lang, code=join_code(args.code), path=str(args.out)))
        else:
            data = args.file.read_bytes()
            code = import_archive(
                inst.db,
                data,
                secret_key=inst.secret_key,
                void_unused_cards=args.void_unused_cards,
            )
            print(t("backup.cli.imported", lang, code=code))
    except BeiduiError as err:
        print(tm(err.message, lang), file=sys.stderr)
        return 1
    finally:
        inst.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
