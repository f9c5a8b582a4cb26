from django.apps import AppConfig
from django.core import checks


class ReviewsConfig(AppConfig):
    name = "reviewsite.reviews"
    label = "reviews"
    verbose_name = "Reviews"

    def ready(self) -> None:
        from . import signals  # noqa: F401
        from .orphans import no_orphan_reviews

        checks.register(no_orphan_reviews, checks.Tags.database)
