"""The search page behind the box in the header of every staff page (templates/base.html): the matching requests
as queue rows, best first, with what each term matched; an exact tracking number opens its request."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from roi.tenancy import TenantViewMixin
from workflow.search import MatchKind, SearchTermError, request_search, search_access_record
from workflow.views.queue import annotate_rows


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
        annotate_rows(rows, tenant=self.tenant, user=request.user)
        context.update(
            results=results,
            rows=rows,
            matched=[MatchKind.LABELS[kind] for kind in results.kinds],
            bulk_form=None,
            query="",
            search_results=True,
        )
        return render(request, "workflow/search.html", context)
