from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "intake"
    verbose_name = "Intake"

    def ready(self) -> None:
        from intake.panels import PANEL
        from workflow.extensions import register_panel

        register_panel(PANEL)
        from intake.timeline import intake_timeline
        from workflow.extensions import register_timeline_source

        register_timeline_source(intake_timeline)
        from intake.activities import register as register_activities

        register_activities()

        from exceptions.signals import exception_opened
        from intake.notices import on_exception_opened

        exception_opened.connect(on_exception_opened, dispatch_uid="intake.requestor-action-needed")
