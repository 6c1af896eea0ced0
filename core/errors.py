"""Domain errors. Each names its locale key; pages catch them once and show `t(err.key)`."""

from __future__ import annotations

from typing import Any, ClassVar

from core.i18n import Message


class BeiduiError(Exception):
    """Base of every domain error: carries a locale key and the values for its text.

    A subclass names its key where it is declared,
    `class NotesClosed(BeiduiError, key="notes.errors.closed"): ...`; one declared without
    `key=` shows its parent's text."""

    key: ClassVar[str] = "errors.generic"

    def __init_subclass__(cls, key: str | None = None) -> None:
        super().__init_subclass__()
        if key is not None:
            cls.key = key

    def __init__(self, detail: str = "", **params: Any) -> None:
        super().__init__(detail or self.key)
        self.params = params

    @property
    def message(self) -> Message:
        return Message(self.key, self.params)


def is_storage_busy(err: BaseException) -> bool:
    """Whether `err` is the database being locked, busy or unreachable for a moment (not a
    bug): pages say "busy, try again" and keep what was typed. Checked by class name so this
    module stays free of the database library."""
    names = {cls.__module__ + "." + cls.__qualname__ for cls in type(err).__mro__}
    return bool(
        names
        & {
            "sqlalchemy.exc.OperationalError",
            "sqlalchemy.exc.TimeoutError",
            "sqlite3.OperationalError",
        }
    )
