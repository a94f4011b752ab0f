from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"

    def ready(self) -> None:
        from portal.panels import PANEL
        from workflow.extensions import register_panel

        register_panel(PANEL)
        from portal.timeline import portal_timeline
        from workflow.extensions import register_timeline_source

        register_timeline_source(portal_timeline)
