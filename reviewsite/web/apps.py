from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "reviewsite.web"
    label = "web"
    verbose_name = "Review site"
