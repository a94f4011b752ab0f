from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from roi.admin import ReadOnlyAdminMixin
from workflow.models import Patient, RecordRequest, Requestor, RequestTransition


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    list_display = ["last_name", "first_name", "mrn", "date_of_birth", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["last_name", "mrn"]


@admin.register(Requestor)
class RequestorAdmin(SimpleHistoryAdmin):
    list_display = ["name", "organization", "kind", "tenant"]
    list_filter = ["tenant", "kind"]


@admin.register(RecordRequest)
class RecordRequestAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Read-only for operators: state changes go through the staff pages or the API, which log and audit them."""

    list_display = ["tracking_number", "tenant", "state", "request_type", "received_at", "legal_due_date"]
    list_filter = ["tenant", "state", "request_type"]
    search_fields = ["tracking_number"]


@admin.register(RequestTransition)
class RequestTransitionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["request", "transition", "from_state", "to_state", "actor", "at"]
    list_filter = ["tenant", "transition"]
