from django.apps import AppConfig


class ExceptionsConfig(AppConfig):
    name = "exceptions"
    verbose_name = "Exceptions and escalations"

    def ready(self) -> None:
        from exceptions.panels import PANEL
        from workflow.extensions import register_panel

        register_panel(PANEL)
