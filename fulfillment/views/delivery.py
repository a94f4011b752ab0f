"""Pages and actions for fulfillment: delivery."""

from __future__ import annotations

urlpatterns: list = []
