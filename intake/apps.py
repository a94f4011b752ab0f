from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "intake"
    verbose_name = "Intake"

    def ready(self) -> None:
        from intake.panels import PANEL
        from workflow.extensions import register_panel

        register_panel(PANEL)
