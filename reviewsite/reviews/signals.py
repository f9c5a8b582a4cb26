from django.db.models.signals import post_delete
from django.dispatch import receiver

from reviewsite.products.models import Product

from .models import Review


@receiver(post_delete, sender=Product)
def delete_reviews_of_deleted_product(sender, instance: Product, **kwargs) -> None:
    """Stand in for ON DELETE CASCADE, which no database can do across databases.

    This runs after the product's delete, in another database and another
    transaction: if it fails, the product is gone and its reviews remain as
    orphans. That is the price of splitting data over databases.
    """
    Review.objects.filter(product_id=instance.pk).delete()
