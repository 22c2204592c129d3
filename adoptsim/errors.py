"""Errors meant for people: each names the field, the value and what is allowed."""

from __future__ import annotations


class AdoptsimError(Exception):
    """Base class for input errors that the CLI reports in one line (exit code 2)."""


class ScenarioError(AdoptsimError, ValueError):
    """A scenario value is malformed or out of range.

    The message reads ``field = value — what is allowed``, e.g.
    ``rule.q = 1.4 — must be within [0, 1]``.
    """

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field} = {value!r} — {allowed}")


class TargetsError(AdoptsimError, ValueError):
    """A calibration-target row is malformed (names the row id and the column)."""
