"""Intake pages, in three modules: receive.py (the staff intake form, documents), checklist.py (the checklist,
duplicates, extensions, letters), channels.py (inbound email webhook, failed intakes). Each has its urlpatterns."""
