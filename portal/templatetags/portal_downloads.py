"""The status page's download offer (templates/portal/_downloads.html), read where the page shows it so the status
view and its data (portal/status.py) stay about status."""

from __future__ import annotations

from typing import Any

from django import template

from fulfillment import delivery
from roi import clock
from workflow.deadlines import local_date

register = template.Library()


@register.simple_tag
def download_offer(status: Any) -> dict[str, Any] | None:
    """The newest link of the request's latest delivery by link: whether it still works, until when, and how many
    downloads are left. None when the records did not go out as a download."""
    link = delivery.latest_link(record_request=status.record_request)
    if link is None:
        return None
    return {
        "link_id": link.pk,
        "active": delivery.link_status(link, clock.now()) == "active",
        "expires_on": local_date(link.expires_at, status.tenant),
        "uses_left": max(0, link.max_uses - link.uses),
    }
