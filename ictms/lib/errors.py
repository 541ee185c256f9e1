"""Domain errors raised by services (the state-machine guard is ictms.lib.states.StateMachine.ensure)."""
from __future__ import annotations


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

