"""CSV exports: what a spreadsheet reads back."""

from __future__ import annotations

from roi.downloads import spreadsheet_safe


def test_a_csv_cell_never_runs_as_a_formula_and_numbers_stay_numbers():
    assert spreadsheet_safe('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert spreadsheet_safe("+1 call") == "'+1 call"
    assert spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("-3.5") == "-3.5"
    assert spreadsheet_safe(None) == ""
    assert spreadsheet_safe(12) == "12"
