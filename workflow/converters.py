"""The `<tracking:tracking_number>` path converter of every request URL (/requests/<tracking>/...).

A tracking number matches only its own shape (ROI- and groups of letters and digits, workflow.models
`new_tracking_number`), so a fixed word under /requests/ ("new", "queues", "exceptions", "fulfillment") is never read
as one, and the apps' URL modules can be included in any order. Typed in lower case it still finds the request."""

from __future__ import annotations

from django.urls import register_converter


class TrackingNumberConverter:
    regex = "[Rr][Oo][Ii](?:-[0-9A-Za-z]+)+"

    def to_python(self, value: str) -> str:
        return value.upper()

    def to_url(self, value: str) -> str:
        return value


def register() -> None:
    register_converter(TrackingNumberConverter, "tracking")
