"""Pages and actions for fulfillment: denials."""

from __future__ import annotations

urlpatterns: list = []
