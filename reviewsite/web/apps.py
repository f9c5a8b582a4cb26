import os

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "reviewsite.web"
    label = "web"
    verbose_name = "Review site"

    def ready(self):
        from reviewsite import supervisor

        if os.environ.get(supervisor.SUPERVISED):  # a process of `make demo`
            supervisor.end_with_parent()
