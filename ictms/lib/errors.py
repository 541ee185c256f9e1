"""Domain errors raised by services, and the state-machine transition guard."""
from __future__ import annotations

from collections.abc import Hashable, Mapping


class DomainError(Exception):
    """A rule of the domain forbids this (maps to HTTP 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidTransition(DomainError):
    """The state machine does not allow moving from the current state to the requested one."""


class PermissionDeniedError(Exception):
    """The actor may see the object but may not do this (maps to HTTP 403)."""

    def __init__(self, message: str = "You do not have permission to do this.") -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(Exception):
    """The object does not exist or the actor may not see it (maps to HTTP 404)."""

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)
        self.message = message


def ensure_transition(table: Mapping[Hashable, set], current: Hashable, target: Hashable) -> None:
    """Raise InvalidTransition unless `table` allows current -> target."""
    if target not in table.get(current, set()):
        raise InvalidTransition(f"Cannot go from '{current}' to '{target}'.")
