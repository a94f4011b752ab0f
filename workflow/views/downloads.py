"""The base of every staff download under /requests/<tracking_number>/...: roi.downloads.PhiDownloadView (find,
open, one access event, the safe response) on the request base view, so a file of a restricted request is never
opened for a user who may not open the request. Intake's documents and letters and fulfillment's retrieved records,
packets, invoices and accounting reports build on it."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import redirect

from roi.downloads import PhiDownloadView
from workflow.views.base import RequestView


class RequestDownloadView(PhiDownloadView, RequestView):
    """A file of one request. `find` gets the URL's `tracking_number` (`self.get_object` gives the request); a
    refused download goes back to the request's page."""

    def back(self, **kwargs: Any) -> HttpResponse:
        return redirect("workflow:detail", tracking_number=kwargs["tracking_number"])
