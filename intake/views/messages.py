"""The organisation's wording of requestor emails (admins): list, edit with a preview, reset to the default.

What the emails may say is fixed by intake.notices (a PHI-free context); this page only changes the words. A
template that would not render, or that has no {{ status_link }}, is refused with what to fix."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.views import View

from intake import notices
from intake.choices import NoticeEvent
from intake.models import RequestorMessageTemplate
from roi.choices import Role
from roi.errors import ServiceError
from roi.tenancy import TenantViewMixin

ADMIN_ROLES = frozenset({Role.ADMIN})
LANGUAGES = dict(settings.LANGUAGES)


class MessageTemplateForm(forms.Form):
    subject = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"size": 80}))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 18, "cols": 90, "class": "mono"}))
    is_active = forms.BooleanField(required=False, initial=True, label="In use (uncheck to use the default again)")

    def clean(self) -> dict:
        data = super().clean()
        if "subject" in data and "body" in data:
            for field, message in notices.template_problems(subject=data["subject"], body=data["body"]).items():
                self.add_error(field, message)
        return data


class MessageTemplateListView(TenantViewMixin, View):
    """Every requestor email, per language: the organisation's wording or the default."""

    required_roles = ADMIN_ROLES

    def get(self, request: HttpRequest) -> HttpResponse:
        custom = {(t.event, t.language): t for t in RequestorMessageTemplate.objects.for_tenant(self.tenant)}
        rows = [
            {
                "event": event,
                "language": code,
                "language_name": name,
                "template": custom.get((event.value, code)),
                "edit_url": f"{reverse('intake:message-edit')}?event={event.value}&language={code}",
            }
            for event in NoticeEvent
            for code, name in settings.LANGUAGES
        ]
        return render(request, "intake/messages/list.html", {"rows": rows})


class MessageTemplateEditView(TenantViewMixin, View):
    """Edit one email's wording; "Preview" renders it with sample facts without saving; "Reset" goes back to the
    default."""

    required_roles = ADMIN_ROLES

    def _target(self, request: HttpRequest) -> tuple[str, str]:
        source = request.POST if request.method == "POST" else request.GET
        event, language = source.get("event", ""), source.get("language", "")
        if event not in NoticeEvent.values or language not in LANGUAGES:
            raise Http404("No such message.")
        return event, language

    def _page(
        self, request: HttpRequest, event: str, language: str, form: MessageTemplateForm, **extra: object
    ) -> HttpResponse:
        template = (
            RequestorMessageTemplate.objects.for_tenant(self.tenant).filter(event=event, language=language).first()
        )
        in_use = notices.message_preview(tenant=self.tenant, event=event, language=language)
        history = (
            list(template.history.select_related("history_user").order_by("-history_date")[:10]) if template else []
        )
        context = {
            "event": NoticeEvent(event),
            "language": language,
            "language_name": LANGUAGES[language],
            "form": form,
            "template": template,
            "in_use": in_use,
            "history": history,
            "names": notices.CONTEXT_HELP,
            **extra,
        }
        return render(request, "intake/messages/edit.html", context, status=400 if form.errors else 200)

    def get(self, request: HttpRequest) -> HttpResponse:
        event, language = self._target(request)
        template = (
            RequestorMessageTemplate.objects.for_tenant(self.tenant).filter(event=event, language=language).first()
        )
        if template is not None:
            initial = {"subject": template.subject, "body": template.body, "is_active": template.is_active}
        else:
            subject, body = notices.starter_text(event)
            initial = {"subject": subject, "body": body, "is_active": True}
        return self._page(request, event, language, MessageTemplateForm(initial=initial))

    def post(self, request: HttpRequest) -> HttpResponse:
        event, language = self._target(request)
        edit_url = f"{reverse('intake:message-edit')}?event={event}&language={language}"
        action = request.POST.get("action", "save")
        if action == "reset":
            if notices.message_template_reset(tenant=self.tenant, actor=request.user, event=event, language=language):
                messages.success(
                    request, f"{NoticeEvent(event).label} ({LANGUAGES[language]}): default wording restored."
                )
            return redirect(edit_url)
        form = MessageTemplateForm(request.POST)
        if not form.is_valid():
            return self._page(request, event, language, form)
        data = form.cleaned_data
        if action == "preview":
            preview = notices.message_preview(
                tenant=self.tenant, event=event, language=language, subject=data["subject"], body=data["body"]
            )
            return self._page(request, event, language, form, preview=preview)
        try:
            notices.message_template_save(
                tenant=self.tenant,
                actor=request.user,
                event=event,
                language=language,
                subject=data["subject"],
                body=data["body"],
                is_active=data["is_active"],
            )
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
            return self._page(request, event, language, form)
        messages.success(request, f"{NoticeEvent(event).label} ({LANGUAGES[language]}): saved.")
        return redirect(edit_url)


urlpatterns: list[URLPattern] = [
    path("messages/", MessageTemplateListView.as_view(), name="messages"),
    path("messages/edit/", MessageTemplateEditView.as_view(), name="message-edit"),
]
