"""The search page behind the box in the header of every staff page (templates/base.html): the matching requests
as queue rows, best first, with what each term matched; an exact tracking number opens its request."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from roi.tenancy import TenantViewMixin
from workflow.break_glass import restricted_request_ids
from workflow.forms.queue import exception_reason_label
from workflow.search import MatchKind, SearchTermError, request_search, search_access_record
from workflow.views.base import annotate_dates


class RequestSearchView(TenantViewMixin, View):
    """GET ?q=: a fixed number of queries whatever the number of results (tests/workflow/test_search.py)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        term = request.GET.get("q", "")
        context: dict[str, object] = {"search_term": term, "rows": [], "results": None, "problem": ""}
        if not term.strip():
            context["problem"] = "Type a tracking number, a patient's name, MRN or date of birth, or a requestor."
            return render(request, "workflow/search.html", context)
        try:
            results = request_search(tenant=self.tenant, term=term, user=request.user)
        except SearchTermError as error:
            context["problem"] = str(error)
            return render(request, "workflow/search.html", context, status=400)
        search_access_record(results=results, actor=request.user, request=request, where="page")
        rows = results.rows()
        if results.exact_tracking_number is not None and rows:  # ranked first: the exact kinds score highest
            return redirect("workflow:detail", tracking_number=rows[0].tracking_number)
        annotate_dates(rows, self.tenant)
        band_labels = self.tenant.aging_band_labels()
        masked = restricted_request_ids(tenant=self.tenant, user=request.user, record_requests=rows)
        for row in rows:
            row.aging_label = band_labels[min(row.aging_band, len(band_labels) - 1)]
            row.exception_label = exception_reason_label(row.exception_reason) if row.exception_reason else ""
            row.patient_masked = row.pk in masked
        context.update(
            results=results,
            rows=rows,
            matched=[MatchKind.LABELS[kind] for kind in results.kinds],
            bulk_form=None,
            query="",
        )
        return render(request, "workflow/search.html", context)
