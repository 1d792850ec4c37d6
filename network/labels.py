"""Labels (core registry): the words for codes — enum values, field names, audit actions, error codes.

Each domain registers its labels (lazy German msgids, translated by Flask-Babel when shown) under a namespace;
Python code and templates (the ``label`` global) read them through the same two functions, so a word lives
in one place. tests/test_labels.py fails when an enum value has no German and English label.
"""
from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

LABELS: dict[str, dict[str, Any]] = {}
# namespace -> the enums whose values it labels; tests/test_labels.py checks each value has a label.
ENUMS: dict[str, list[type[Enum]]] = {}


def register(namespace: str, labels: Mapping[str, Any]) -> None:
    """Add labels (code -> lazy_gettext string) to namespace; a later registration of a code wins."""
    LABELS.setdefault(namespace, {}).update({str(code): text for code, text in labels.items()})


def register_enum(namespace: str, enum: type[Enum], labels: Mapping[Any, Any]) -> None:
    """Labels for the values of enum under namespace; the enum is remembered so a missing label fails a test."""
    if enum not in ENUMS.setdefault(namespace, []):
        ENUMS[namespace].append(enum)
    register(namespace, {member.value if isinstance(member, Enum) else member: text
                         for member, text in labels.items()})


def has_label(namespace: str, code: Any) -> bool:
    return str(code) in LABELS.get(namespace, {})


def label(namespace: str, code: Any, **params: Any) -> str:
    """The label of code in the current language, params filled in; the code itself when none is registered."""
    if code is None:
        return ""
    text = LABELS.get(namespace, {}).get(str(code))
    if text is None:
        return str(code)
    text = str(text)
    return text % params if params else text


def labels(namespace: str) -> dict[str, str]:
    """Every label of namespace in the current language (for select boxes and filters), in registration order."""
    return {code: str(text) for code, text in LABELS.get(namespace, {}).items()}
