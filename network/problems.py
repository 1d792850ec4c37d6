"""Coded errors (core): domain code raises Invalid with (field, code, params) problems; the web layer words them.

A service never builds a sentence: it names the field at fault, a stable code ("name.missing") and the values
the message needs. Routes turn each problem into the user's language through the "error" labels
(network.labels), for HTML forms and for JSON ({"error", "field", "code"}).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: the field at fault (None: the whole request), a code, message values."""

    field: str | None
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.field or '-'}: {self.code}"


class Invalid(ValueError):
    """The input was refused and nothing was written; .problems lists every field at fault."""

    def __init__(self, problems: Problem | Iterable[Problem]) -> None:
        self.problems: list[Problem] = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))

    @classmethod
    def one(cls, field: str | None, code: str, /, **params: Any) -> Invalid:
        """One problem; field and code are positional, so a message may have params of those names."""
        return cls([Problem(field, code, params)])

    @property
    def first(self) -> Problem:
        return self.problems[0]

    @property
    def codes(self) -> list[str]:
        return [problem.code for problem in self.problems]

    def by_field(self) -> dict[str | None, list[Problem]]:
        result: dict[str | None, list[Problem]] = {}
        for problem in self.problems:
            result.setdefault(problem.field, []).append(problem)
        return result
