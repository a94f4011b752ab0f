"""Form widgets that render their HTML in Python instead of through Django's widget templates.

Django renders a <select> through one template plus one include per option; the queue page's filter bar (nine
selects, about sixty options, three inputs) cost 8 ms a page that way. These produce the same markup as Django's
select.html, select_option.html, input.html and attrs.html, from the same context (get_context), so forms,
validation, bound values and tests are unchanged. Use them where a form renders on every visit of a busy page."""

from __future__ import annotations

from html import escape
from typing import Any

from django import forms
from django.forms.widgets import Input
from django.utils.safestring import SafeString, mark_safe


def _attrs(attrs: dict[str, Any]) -> str:
    """attrs.html: ` name="value"` per attribute, the bare name for True, nothing for False."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(f" {escape(str(name))}" if value is True else f' {escape(str(name))}="{escape(str(value))}"')
    return "".join(out)


class _PythonRendered:
    def _render(self, template_name: str, context: dict[str, Any], renderer: Any = None) -> SafeString:
        widget = context["widget"]
        if isinstance(self, forms.Select):
            parts = [f'<select name="{escape(widget["name"])}"{_attrs(widget["attrs"])}>']
            for group_name, options, _index in widget["optgroups"]:
                if group_name:
                    parts.append(f'<optgroup label="{escape(str(group_name))}">')
                for option in options:
                    parts.append(
                        f'<option value="{escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
                        f"{escape(str(option['label']))}</option>"
                    )
                if group_name:
                    parts.append("</optgroup>")
            parts.append("</select>")
            return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped
        if isinstance(self, Input):
            value = "" if widget["value"] is None else f' value="{escape(str(widget["value"]))}"'
            return mark_safe(  # noqa: S308 - every value is escaped
                f'<input type="{escape(widget["type"])}" name="{escape(widget["name"])}"{value}{_attrs(widget["attrs"])}>'
            )
        return super()._render(template_name, context, renderer)  # type: ignore[misc]  # Django's private hook, absent from the stubs


class Select(_PythonRendered, forms.Select):
    pass


class NumberInput(_PythonRendered, forms.NumberInput):
    pass


class CheckboxInput(_PythonRendered, forms.CheckboxInput):
    pass


class DateInput(_PythonRendered, forms.DateInput):
    """A browser date picker; the value is ISO (YYYY-MM-DD), the format <input type="date"> reads and sends."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None, format: str | None = None) -> None:
        super().__init__(attrs, format=format or "%Y-%m-%d")
