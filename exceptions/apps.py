from django.apps import AppConfig


class ExceptionsConfig(AppConfig):
    name = "exceptions"
    verbose_name = "Exceptions and escalations"

    def ready(self) -> None:
        from exceptions.choices import ExceptionReason
        from exceptions.panels import PANEL
        from workflow.extensions import register_panel
        from workflow.forms.queue import register_exception_reasons

        register_panel(PANEL)
        from exceptions.timeline import exceptions_timeline
        from workflow.extensions import register_timeline_source

        register_timeline_source(exceptions_timeline)
        from exceptions.activities import register as register_activities

        register_activities()
        # The queue filters and rows show the reason's label; workflow cannot import this app to read it.
        register_exception_reasons(ExceptionReason.choices)

        from exceptions.escalations import escalations_close_with_request
        from exceptions.services import exception_close_with_request
        from workflow.extensions import register_transition_hook

        register_transition_hook(exception_close_with_request)
        register_transition_hook(escalations_close_with_request)
