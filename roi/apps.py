from django.apps import AppConfig


class RoiConfig(AppConfig):
    name = "roi"
    verbose_name = "OpenROI platform"
