"""Template tags for the markup in workflow/markup.py: {% state_badge rr %}, {% due_phrase rr %},
{% queue_rows rows selectable %}."""

from __future__ import annotations

from django import template

from workflow import markup

register = template.Library()

register.simple_tag(markup.state_badge, name="state_badge")
register.simple_tag(markup.due_phrase, name="due_phrase")


@register.simple_tag
def queue_rows(rows, selectable=False):
    return markup.queue_rows(rows, selectable=bool(selectable))
