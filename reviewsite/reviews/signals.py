from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from reviewsite.products.models import Product

from .models import Review


@receiver(post_delete, sender=Product)
def delete_reviews_of_deleted_product(sender, instance: Product, using, **kwargs):
    """Stand in for ON DELETE CASCADE, which no database can do across databases.

    No transaction spans two databases, so the reviews are deleted only once
    the product's delete has committed: if it rolls back, the reviews are
    still there. If deleting the reviews fails then (their database is down),
    the error is logged and the product stays deleted: its reviews remain as
    orphans, which ``manage.py find_orphans`` finds and removes. The worst
    case is an orphan review, never a product that lost its reviews.
    """
    product_id = instance.pk

    def delete_reviews_of_product() -> None:
        Review.objects.filter(product_id=product_id).delete()

    transaction.on_commit(delete_reviews_of_product, using=using, robust=True)
