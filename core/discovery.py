"""Finding what the modules of a package declare, so that nobody keeps a list of them.

Counting methods (`core/tally/methods/`) and export formats (`core/export_formats/`) are
each one module that declares one value under an agreed name; adding one is adding its
module (and its texts), never editing a list. The order is the declared values', never the
file system's.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from operator import attrgetter
from typing import TypeVar

T = TypeVar("T")


class DiscoveryError(RuntimeError):
    """A module that does not declare itself properly: a programming error, at import."""


def declared_in(
    path: Iterable[str],
    package: str,
    attribute: str,
    kind: type[T],
    *,
    unique: tuple[str, ...],
    order: str,
) -> list[T]:
    """The `attribute` (a `kind`) of every module of `package` (found on `path`), sorted by
    its `order` field. Modules are read in name order; a module without the declaration, or
    two declarations sharing a value of a `unique` field, are refused."""
    found: list[T] = []
    for name in sorted(info.name for info in pkgutil.iter_modules(list(path))):
        module = importlib.import_module(f"{package}.{name}")
        declared = getattr(module, attribute, None)
        if not isinstance(declared, kind):
            raise DiscoveryError(f"{module.__name__} declares no {attribute} ({kind.__name__})")
        found.append(declared)
    for field in unique:
        values = [getattr(value, field) for value in found]
        if len(set(values)) != len(values):
            raise DiscoveryError(f"two {kind.__name__}s share one {field}: {sorted(values)}")
    return sorted(found, key=attrgetter(order))
