"""Errors raised by services. Pages and the API turn them into messages and status codes in one place each."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A rule stopped the action. `message` is written for the person who asked for it: it says what to fix."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def on_form(self, form: Any) -> bool:
        """Show the message on the form's field it names. False when it names none of the form's fields: the page
        then shows it as a message."""
        if self.field and self.field in form.fields:
            form.add_error(self.field, self.message)
            return True
        return False


class NotPermitted(ServiceError):
    """The actor's role in this tenant does not allow the action."""

    status_code = 403


class Conflict(ServiceError):
    """Someone else changed the object since the actor looked at it."""

    status_code = 409
