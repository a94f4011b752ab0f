from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "Request workflow"

    def ready(self) -> None:
        from workflow import activities, converters, panels
        from workflow.extensions import register_panel

        activities.register()
        converters.register()
        register_panel(panels.TIMELINE)
        register_panel(panels.HISTORY)
