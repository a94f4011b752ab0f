from django.apps import AppConfig


class RoiConfig(AppConfig):
    name = "roi"
    verbose_name = "OpenROI platform"

    def ready(self) -> None:
        # Sign-in and sign-out record staff sessions (roi/sessions.py).
        from roi import sessions  # noqa: F401
