from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Shadowing"

    def ready(self) -> None:
        from reviewsite.products.models import Product
        from reviewsite.reviews.signals import delete_reviews_of_deleted_product

        from . import overlay

        post_migrate.connect(overlay.number_local_rows_high, sender=self)
        post_delete.connect(overlay.leave_tombstone)
        # Tombstones are this project's cascade: a deleted product's reviews are
        # buried with it, their local rows kept, not deleted as elsewhere.
        post_delete.disconnect(delete_reviews_of_deleted_product, sender=Product)
