"""Pages and actions for fulfillment: qc."""

from __future__ import annotations

urlpatterns: list = []
