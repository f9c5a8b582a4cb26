from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

RATINGS = [(n, "★" * n) for n in range(1, 6)]


class Review(models.Model):
    """One person's opinion of one product.

    Reviews may live in another database than products and users (functional
    separation, sharding), so ``product_id`` and ``author_id`` are plain
    integers, not foreign keys: a database cannot join or enforce a constraint
    across two databases, and a ForeignKey would make the ORM try. Pages fetch
    the related rows with one query per table (see ``reviewsite.web.stitch``).
    """

    product_id = models.PositiveBigIntegerField(db_index=True)
    # None means the review was written anonymously.
    author_id = models.PositiveIntegerField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=RATINGS,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    text = models.TextField(max_length=5000)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["product_id", "-created", "-id"]),
            models.Index(fields=["-created", "-id"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True)
                | models.Q(rating__gte=1, rating__lte=5),
                name="review_rating_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"Review {self.pk} of product {self.product_id}"

    def get_absolute_url(self) -> str:
        return reverse("review", args=[self.pk])
