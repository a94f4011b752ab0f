from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    verbose_name = "Fulfillment"

    def ready(self) -> None:
        from fulfillment.panels import PANELS
        from workflow.extensions import register_panel

        for panel in PANELS:
            register_panel(panel)
        from fulfillment.panels import gate_timeline
        from workflow.extensions import register_timeline_source

        register_timeline_source(gate_timeline)
        from fulfillment.timeline import deliveries_timeline

        register_timeline_source(deliveries_timeline)
        from fulfillment.panels.denials import psychotherapy_restricted_actions
        from workflow.extensions import register_restricted_actions

        register_restricted_actions(psychotherapy_restricted_actions)
        from fulfillment.activities import register as register_activities

        register_activities()
        from fulfillment.retrieval import retrieval_tasks_close_with_request
        from workflow.extensions import register_transition_hook

        register_transition_hook(retrieval_tasks_close_with_request)
