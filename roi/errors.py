"""Errors raised by services. Pages and the API turn them into messages and status codes in one place each."""

from __future__ import annotations


class ServiceError(Exception):
    """A rule stopped the action. `message` is written for the person who asked for it: it says what to fix."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotPermitted(ServiceError):
    """The actor's role in this tenant does not allow the action."""

    status_code = 403


class Conflict(ServiceError):
    """Someone else changed the object since the actor looked at it."""

    status_code = 409
