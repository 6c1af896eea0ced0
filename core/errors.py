"""Domain errors. Each names its locale key; pages catch them once and show `t(err.key)`."""

from __future__ import annotations

from typing import Any, ClassVar

from core.i18n import Message


class BeiduiError(Exception):
    """Base of every domain error: carries a locale key and the values for its text."""

    key: ClassVar[str] = "errors.generic"

    def __init__(self, detail: str = "", **params: Any) -> None:
        super().__init__(detail or self.key)
        self.params = params

    @property
    def message(self) -> Message:
        return Message(self.key, self.params)
