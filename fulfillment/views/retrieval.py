"""Pages and actions for fulfillment: retrieval."""

from __future__ import annotations

urlpatterns: list = []
