"""Pages and actions for fulfillment: disclosures."""

from __future__ import annotations

urlpatterns: list = []
