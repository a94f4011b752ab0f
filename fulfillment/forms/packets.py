"""Forms of the documents-and-packet section of the fulfillment panel: uploading a retrieved document, excluding
pages or a whole document. They check what a person can fix at the edge; the services in fulfillment/documents.py
check the rules again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from fulfillment.choices import ExclusionReason, RetrievalSource, RetrievalStatus
from fulfillment.documents import pages_phrase
from fulfillment.models import ReleaseDocument, RetrievalTask
from intake.documents import ACCEPTED_KINDS_PHRASE, inspect_upload
from roi.errors import ServiceError
from roi.models import Tenant
from workflow.choices import RecordType, SensitiveCategory
from workflow.models import RecordRequest


def retrieval_task_choices(*, tenant: Tenant, record_request: RecordRequest) -> list[tuple[str, str]]:
    """The request's retrieval tasks, for "which task brought these records back" (optional)."""
    tasks = RetrievalTask.objects.for_tenant(tenant).filter(request_id=record_request.pk).order_by("requested_at", "id")
    choices = []
    for task in tasks:
        asked = timezone.localtime(task.requested_at, tenant.tzinfo)
        choices.append(
            (
                str(task.pk),
                f"{task.get_source_display()}{' - ' + task.source_detail if task.source_detail else ''}"
                f" ({RetrievalStatus(task.status).label.lower()}, requested {asked:%b} {asked.day})",
            )
        )
    return choices


def _blank(label: str, choices: Any) -> list[tuple[str, str]]:
    return [("", label), *choices]


class ReleaseDocumentUploadForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text=f"{ACCEPTED_KINDS_PHRASE[0].upper()}{ACCEPTED_KINDS_PHRASE[1:]}. An image is one page of the packet.",
        allow_empty_file=True,  # inspect_upload says "is empty (0 bytes)", clearer than Django's message
        error_messages={"required": "Choose the file of retrieved records to upload."},
    )
    source = forms.ChoiceField(
        label="Came from",
        choices=_blank("Choose where the records came from", RetrievalSource.choices),
        error_messages={"required": "Choose where the records came from."},
    )
    retrieval_task = forms.ChoiceField(label="Retrieval task", required=False)
    record_type = forms.ChoiceField(
        label="Record type",
        choices=_blank("Choose the record type", RecordType.choices),
        error_messages={"required": "Choose what kind of record this is."},
    )
    service_date_from = forms.DateField(
        label="Dates of service from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    service_date_to = forms.DateField(label="to", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sensitive_categories = forms.MultipleChoiceField(
        label="Sensitive categories in these pages",
        choices=SensitiveCategory.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    patient_confirmed = forms.BooleanField(label="I checked that every page is this patient's", required=False)

    def __init__(self, *args: Any, task_choices: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        kwargs.setdefault("auto_id", "id_rd_%s")
        super().__init__(*args, **kwargs)
        self.fields["retrieval_task"].choices = _blank("None", task_choices or [])

    def clean_file(self) -> UploadedFile:
        uploaded = self.cleaned_data["file"]
        try:
            inspect_upload(uploaded)
        except ServiceError as error:
            raise forms.ValidationError(error.message) from None
        return uploaded

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, last = data.get("service_date_from"), data.get("service_date_to")
        if first and last and first > last:
            self.add_error("service_date_to", "The last date of service must be on or after the first.")
        return data


class _DocumentForm(forms.Form):
    """A form about one document: its fields get ids of their own, so the panel can show one per document."""

    def __init__(self, *args: Any, document: ReleaseDocument, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        kwargs.setdefault("auto_id", f"id_{self.prefix_name}{document.pk}_%s")
        super().__init__(*args, **kwargs)
        self.document_pk = document.pk
        self.page_count = document.page_count

    prefix_name = "doc"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("reason") == ExclusionReason.OTHER and not (data.get("note") or "").strip():
            self.add_error("note", "Say why in the note: the reason is 'Other'.")
        return data


class _PageRangeForm(_DocumentForm):
    """A form about pages first..last of one document: the range is checked against the document's page count."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, last = data.get("first_page"), data.get("last_page")
        if first and first > self.page_count:
            self.add_error(
                "first_page", f"This document has {pages_phrase(self.page_count)}: page {first} is not in it."
            )
        if first and last and last < first:
            self.add_error("last_page", "The last page must be the first page or after it.")
        elif last and last > self.page_count:
            self.add_error(
                "last_page",
                f"This document has {pages_phrase(self.page_count)}: the last page can be {self.page_count} at most.",
            )
        return data


class PageExclusionForm(_PageRangeForm):
    prefix_name = "px"
    first_page = forms.IntegerField(
        label="From page", min_value=1, error_messages={"required": "Give the first page to leave out."}
    )
    last_page = forms.IntegerField(label="to page", min_value=1, required=False, help_text="Empty: just that page.")
    reason = forms.ChoiceField(
        label="Why",
        choices=_blank("Choose why", ExclusionReason.choices),
        error_messages={"required": "Choose why these pages are left out."},
    )
    note = forms.CharField(label="Note", required=False, max_length=300)


class DocumentExcludeForm(_DocumentForm):
    prefix_name = "dx"
    reason = forms.ChoiceField(
        label="Why",
        choices=_blank("Choose why", ExclusionReason.choices),
        error_messages={"required": "Choose why the document is left out."},
    )
    note = forms.CharField(label="Note", required=False, max_length=300)


class PageCategoryForm(_PageRangeForm):
    """Pages of a document that carry a sensitive category (an HIV result in a discharge summary)."""

    prefix_name = "pc"
    first_page = forms.IntegerField(
        label="From page", min_value=1, error_messages={"required": "Give the first page that carries it."}
    )
    last_page = forms.IntegerField(label="to page", min_value=1, required=False, help_text="Empty: just that page.")
    category = forms.ChoiceField(
        label="Sensitive category",
        choices=_blank("Choose the category", SensitiveCategory.choices),
        error_messages={"required": "Choose the sensitive category these pages carry."},
    )
