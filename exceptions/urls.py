from django.urls import path

from exceptions import views, views_board

app_name = "exceptions"

urlpatterns = [
    path("<str:tracking_number>/exception/open/", views.ExceptionOpenView.as_view(), name="open"),
    path("<str:tracking_number>/exception/resolve/", views.ExceptionResolveView.as_view(), name="resolve"),
    path("<str:tracking_number>/exception/next-step/", views.ExceptionNextStepView.as_view(), name="next-step"),
    # Supervisor pages. Included under /requests/ before workflow's "<tracking_number>/", so these fixed words are
    # never read as tracking numbers (which look like ROI-XXXX-XXXX-XXXX).
    path("exceptions/", views_board.ExceptionBoardView.as_view(), name="board"),
    path("escalations/", views_board.EscalationInboxView.as_view(), name="inbox"),
    path("escalations/<int:pk>/acknowledge/", views_board.EscalationAcknowledgeView.as_view(), name="acknowledge"),
    path("escalation-rules/", views_board.EscalationRuleListView.as_view(), name="rules"),
    path("escalation-rules/new/", views_board.EscalationRuleCreateView.as_view(), name="rule-create"),
    path("escalation-rules/<int:pk>/", views_board.EscalationRuleEditView.as_view(), name="rule-edit"),
    path("escalation-rules/<int:pk>/active/", views_board.EscalationRuleActiveView.as_view(), name="rule-active"),
]
