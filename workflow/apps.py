from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "Request workflow"

    def ready(self) -> None:
        from workflow import activities, converters

        activities.register()
        converters.register()
