"""Forms for the records a request relies on (intake.authorizations): the authorization or directive, and a personal
representative's authority. Each names the document the record comes from, chosen among the request's documents;
the services check everything again."""

from __future__ import annotations

from typing import Any

from django import forms

from intake.choices import AuthorityType
from intake.models import Authorization, IntakeDocument, RepresentativeAuthority
from workflow.choices import SensitiveCategory

DATE = forms.DateInput(attrs={"type": "date"})


def _document_choices(documents: list[IntakeDocument]) -> list[tuple[str, str]]:
    return [
        ("", "Choose the document"),
        *[(str(d.pk), f"{d.get_kind_display()}: {d.original_name}") for d in documents],
    ]


class _RecordForm(forms.Form):
    prefix_id = "record"

    def __init__(self, *args: Any, documents: list[IntakeDocument], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.prefix_id}_%s")
        super().__init__(*args, **kwargs)
        self.documents = {str(d.pk): d for d in documents}
        self.fields["document"].choices = _document_choices(documents)

    def chosen_document(self) -> IntakeDocument | None:
        return self.documents.get(self.cleaned_data.get("document") or "")


class AuthorizationRecordForm(_RecordForm):
    """The signed form as it reads: who signed, when, until when, whom it names."""

    prefix_id = "auth"
    document = forms.ChoiceField(label="The signed form")
    signer_name = forms.CharField(label="Signed by", max_length=200)
    signed_on = forms.DateField(label="Date signed", widget=DATE)
    expires_on = forms.DateField(label="Expires on", required=False, widget=DATE)
    expiration_event = forms.CharField(
        label="Or expires on an event", max_length=200, required=False, help_text='For example "end of the lawsuit".'
    )
    recipient = forms.CharField(
        label="Names as recipient",
        max_length=300,
        help_text="As the form names them (a person or an organisation): it must be the requestor.",
    )
    representative = forms.ChoiceField(label="Signed by a personal representative", required=False)
    covers_psychotherapy_notes = forms.BooleanField(
        label="It is an authorization for psychotherapy notes (and nothing else)", required=False
    )

    def __init__(
        self, *args: Any, documents: list[IntakeDocument], representatives: list[RepresentativeAuthority], **kwargs: Any
    ) -> None:
        super().__init__(*args, documents=documents, **kwargs)
        self.representatives = {str(r.pk): r for r in representatives}
        self.fields["representative"].choices = [
            ("", "No: the patient signed"),
            *[
                (str(r.pk), f"{r} (checked {r.verified_at:%b %-d, %Y})" if r.verified_at else str(r))
                for r in representatives
            ],
        ]

    def chosen_representative(self) -> RepresentativeAuthority | None:
        return self.representatives.get(self.cleaned_data.get("representative") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        signed_on, expires_on = data.get("signed_on"), data.get("expires_on")
        if signed_on and expires_on and expires_on < signed_on:
            self.add_error("expires_on", "The expiration date is before the signature date: check both.")
        return data


class AuthorizationLinkForm(forms.Form):
    """An authorization already recorded for the patient, for another request of theirs."""

    authorization = forms.ChoiceField(label="Recorded for this patient")

    def __init__(self, *args: Any, authorizations: list[Authorization], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_authlink_%s")
        super().__init__(*args, **kwargs)
        usable = [a for a in authorizations if getattr(a, "revocation", None) is None]
        self.choices_by_pk = {str(a.pk): a for a in usable}
        self.fields["authorization"].choices = [("", "Choose"), *[(str(a.pk), str(a)) for a in usable]]

    def chosen(self) -> Authorization | None:
        return self.choices_by_pk.get(self.cleaned_data.get("authorization") or "")


class RepresentativeRecordForm(_RecordForm):
    """A representative's authority, from its document, checked by the staff member recording it."""

    prefix_id = "rep"
    name = forms.CharField(label="Representative", max_length=200)
    authority_type = forms.ChoiceField(label="Authority", choices=[("", "Choose"), *AuthorityType.choices])
    document = forms.ChoiceField(label="The document that proves it")
    ends_on = forms.DateField(
        label="Authority ends on",
        required=False,
        widget=DATE,
        help_text="If the document says (a minor's 18th birthday).",
    )
    checked = forms.BooleanField(
        label="I looked at this document: it gives this person the authority to act for the patient",
        error_messages={"required": "Confirm that you checked the document: you are recorded as the one who did."},
    )


class ConsentRecordForm(_RecordForm):
    """A sensitive category's specific consent, from the signed consent received with the request: at any time while
    the request is open (a category found in the records after validation)."""

    prefix_id = "consent"
    category = forms.ChoiceField(label="Consent for")
    document = forms.ChoiceField(label="The signed consent")

    def __init__(self, *args: Any, categories: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "Choose the category"), *[
            (c, SensitiveCategory(c).label) for c in categories
        ]]  # fmt: skip


class RepresentativeLinkForm(forms.Form):
    representative = forms.ChoiceField(label="Recorded for this patient")

    def __init__(self, *args: Any, representatives: list[RepresentativeAuthority], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_replink_%s")
        super().__init__(*args, **kwargs)
        usable = [r for r in representatives if r.is_verified]
        self.choices_by_pk = {str(r.pk): r for r in usable}
        self.fields["representative"].choices = [("", "Choose"), *[(str(r.pk), str(r)) for r in usable]]

    def chosen(self) -> RepresentativeAuthority | None:
        return self.choices_by_pk.get(self.cleaned_data.get("representative") or "")


class EventOccurredForm(forms.Form):
    occurred_on = forms.DateField(label="The expiration event occurred on", widget=DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_event_%s")
        super().__init__(*args, **kwargs)


class RevocationForm(forms.Form):
    """The patient's written revocation: when it was received, and the document itself."""

    received_on = forms.DateField(label="Written revocation received on", widget=DATE)
    file = forms.FileField(label="The written revocation (PDF, TIFF, PNG or JPEG)")
    note = forms.CharField(label="Note", max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_revoke_%s")
        super().__init__(*args, **kwargs)


class PatientDeathForm(forms.Form):
    """The patient's date of death, from a death certificate or an estate's letters; empty clears it."""

    date_of_death = forms.DateField(label="Date of death", widget=DATE, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_death_%s")
        super().__init__(*args, **kwargs)
