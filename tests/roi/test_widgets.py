"""The Python-rendered widgets (roi/widgets.py) give the same HTML as Django's template-rendered ones."""

from __future__ import annotations

import pytest
from django import forms
from django.test.html import parse_html

from roi import widgets

CHOICES = [
    ("", "Any"),
    ("a&b", 'Quotes " and <tags>'),
    ("Group <1>", [("g1", "In a group"), ("g2", "Also & grouped")]),
    (3, 3),
]


def _same(ours: str, django: str) -> None:
    assert parse_html(str(ours)) == parse_html(str(django))


@pytest.mark.parametrize("value", [None, "", "a&b", "g2", 3, "missing"])
@pytest.mark.parametrize("attrs", [None, {"id": "id_x", "class": "wide", "required": True, "disabled": False}])
def test_select_matches_django(value, attrs):
    _same(
        widgets.Select(choices=CHOICES).render("x", value, attrs=attrs),
        forms.Select(choices=CHOICES).render("x", value, attrs=attrs),
    )


@pytest.mark.parametrize("value", [None, "", 0, 12, '"><script>'])
def test_number_input_matches_django(value):
    _same(
        widgets.NumberInput().render("n", value, attrs={"id": "id_n", "min": 0}),
        forms.NumberInput().render("n", value, attrs={"id": "id_n", "min": 0}),
    )


@pytest.mark.parametrize("value", [None, False, True, "on"])
def test_checkbox_matches_django(value):
    _same(widgets.CheckboxInput().render("c", value), forms.CheckboxInput().render("c", value))


def test_values_are_escaped():
    html = widgets.Select(choices=CHOICES).render("x", "a&b")
    assert "<tags>" not in html
    assert "&lt;tags&gt;" in html
    assert 'value="a&amp;b" selected' in html
