"""The dashboard's table tag: one source for the page's tables (reporting/tables.py)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from reporting.tables import Table, table_html

register = template.Library()


@register.simple_tag(takes_context=True)
def report_table(context: Any, table: Table) -> SafeString:
    return table_html(table, export_query=context.get("export_query"))
