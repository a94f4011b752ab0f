"""Supervisor and admin reports: the dashboard with its exports, and the audit pages."""

from django.urls import path

from reporting import audit_views, views

app_name = "reporting"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("export/<slug:table>.csv", views.DashboardExportView.as_view(), name="export"),
    path("monthly.pdf", views.MonthlyReportView.as_view(), name="monthly"),
    path("settings/", views.ReportingSettingsView.as_view(), name="settings"),
    # Audit pages (admins)
    path("audit/", audit_views.AccessEventListView.as_view(), name="audit-events"),
    path("audit/patient/", audit_views.PatientAuditView.as_view(), name="audit-patient"),
    path("audit/user/", audit_views.UserAuditView.as_view(), name="audit-user"),
    # Supervisors and admins: emergency access to restricted requests (workflow/break_glass.py).
    path("break-glass/", audit_views.BreakGlassReportView.as_view(), name="break-glass"),
    path("audit/requests/<tracking:tracking_number>/", audit_views.RequestAuditView.as_view(), name="audit-request"),
]
