from django.urls import path

from exceptions.views import board, episodes

app_name = "exceptions"

urlpatterns = [
    path("<tracking:tracking_number>/exception/open/", episodes.ExceptionOpenView.as_view(), name="open"),
    path("<tracking:tracking_number>/exception/resolve/", episodes.ExceptionResolveView.as_view(), name="resolve"),
    path("<tracking:tracking_number>/exception/next-step/", episodes.ExceptionNextStepView.as_view(), name="next-step"),
    # Supervisor pages. Included under /requests/ before workflow's "<tracking_number>/", so these fixed words are
    # never read as tracking numbers (which look like ROI-XXXX-XXXX-XXXX).
    path("exceptions/", board.ExceptionBoardView.as_view(), name="board"),
    path("escalations/", board.EscalationInboxView.as_view(), name="inbox"),
    path("escalations/acknowledge/", board.EscalationBulkAcknowledgeView.as_view(), name="acknowledge-many"),
    path("escalations/<int:pk>/acknowledge/", board.EscalationAcknowledgeView.as_view(), name="acknowledge"),
    path("escalation-rules/", board.EscalationRuleListView.as_view(), name="rules"),
    path("escalation-rules/new/", board.EscalationRuleCreateView.as_view(), name="rule-create"),
    path("escalation-rules/<int:pk>/", board.EscalationRuleEditView.as_view(), name="rule-edit"),
    path("escalation-rules/<int:pk>/active/", board.EscalationRuleActiveView.as_view(), name="rule-active"),
]
