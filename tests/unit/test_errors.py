"""A domain error names its locale key in its class declaration; one without inherits it."""

from __future__ import annotations

from core.errors import BeiduiError
from core.i18n import Message


class _Parent(BeiduiError, key="tests.errors.parent"): ...


class _Child(_Parent): ...


class _Grandchild(_Child, key="tests.errors.grandchild"): ...


class _Plain(BeiduiError): ...


def test_a_subclass_declared_with_a_key_carries_it_on_the_class_and_its_instances() -> None:
    assert _Parent.key == "tests.errors.parent"
    err = _Grandchild(count=2)
    assert err.key == _Grandchild.key == "tests.errors.grandchild"
    assert err.message == Message("tests.errors.grandchild", {"count": 2})


def test_a_subclass_declared_without_a_key_shows_its_parents_text() -> None:
    assert _Child.key == _Child().key == "tests.errors.parent"
    assert _Plain.key == BeiduiError.key == "errors.generic"


def test_declaring_a_key_leaves_the_parent_and_siblings_alone() -> None:
    assert _Parent.key == "tests.errors.parent"
    assert BeiduiError.key == "errors.generic"
    assert "key" not in vars(_Child)
