"""Signals of the exceptions app, for the apps above it (which it may not import)."""

from django.dispatch import Signal

# Sent inside exception_open's transaction, after the episode is saved: tenant, episode, record_request.
exception_opened = Signal()
