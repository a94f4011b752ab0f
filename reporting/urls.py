"""Supervisor and admin reports: the dashboard with its exports, and the audit pages."""

from django.urls import path  # noqa: F401

app_name = "reporting"

urlpatterns: list = []
