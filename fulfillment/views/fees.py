"""Pages and actions for fulfillment: fees."""

from __future__ import annotations

urlpatterns: list = []
