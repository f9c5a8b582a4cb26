import logging

from django.db import DatabaseError, connections, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from reviewsite.products.models import Product

from .models import Review

log = logging.getLogger(__name__)


@receiver(post_delete, sender=Product)
def delete_reviews_of_deleted_product(sender, instance: Product, using, **kwargs):
    """Stand in for ON DELETE CASCADE, which no database can do across databases.

    No transaction spans two databases, so the reviews are deleted only once
    the product's delete has committed: if it rolls back, the reviews are
    still there. If deleting the reviews fails then (their database is down),
    the product stays deleted and its reviews remain as orphans, logged, which
    ``manage.py find_orphans --delete`` removes. The worst case is an orphan
    review, never a product that lost its reviews.
    """
    cascade = Cascade.of(connections[using])
    product_id = instance.pk
    transaction.on_commit(
        lambda: cascade.delete_reviews_of(product_id), using=using, robust=True
    )


class Cascade:
    """The review deletes of one commit on the products' database. After one
    fails, the others are not tried: each would wait out the same unreachable
    database (its busy or connect timeout), product after product."""

    def __init__(self) -> None:
        self.ran = False
        self.failed: Exception | None = None

    @classmethod
    def of(cls, connection) -> "Cascade":
        """The cascade of the connection's transaction: a new one once the last
        one's deletes have run (its transaction committed)."""
        current = getattr(connection, "review_cascade", None)
        if current is None or current.ran:
            current = connection.review_cascade = cls()
        return current

    def delete_reviews_of(self, product_id: int) -> None:
        self.ran = True
        if self.failed is None:
            try:
                Review.objects.filter(product_id=product_id).delete()
                return
            except DatabaseError as error:
                self.failed = error
        log.error(
            "The reviews of deleted product %s were not deleted (%s): they are "
            "orphans until `manage.py find_orphans --delete`.",
            product_id,
            self.failed,
        )
