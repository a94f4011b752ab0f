"""Pages and actions for fulfillment: packets."""

from __future__ import annotations

urlpatterns: list = []
