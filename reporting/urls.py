"""Supervisor and admin reports: the dashboard with its exports, and the audit pages."""

from django.urls import path

from reporting import views

app_name = "reporting"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("export/<slug:table>.csv", views.DashboardExportView.as_view(), name="export"),
    path("monthly.pdf", views.MonthlyReportView.as_view(), name="monthly"),
    path("settings/", views.ReportingSettingsView.as_view(), name="settings"),
]
