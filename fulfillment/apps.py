from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    verbose_name = "Fulfillment"

    def ready(self) -> None:
        from fulfillment.panels import PANEL
        from workflow.extensions import register_panel

        register_panel(PANEL)
        from fulfillment.activities import register as register_activities

        register_activities()
