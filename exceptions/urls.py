from django.urls import path

from exceptions import views

app_name = "exceptions"

urlpatterns = [
    path("<str:tracking_number>/exception/open/", views.ExceptionOpenView.as_view(), name="open"),
    path("<str:tracking_number>/exception/resolve/", views.ExceptionResolveView.as_view(), name="resolve"),
    path("<str:tracking_number>/exception/next-step/", views.ExceptionNextStepView.as_view(), name="next-step"),
]
