from collections import defaultdict

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, router
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

RATINGS = [(n, "★" * n) for n in range(1, 6)]


def assign_ids(reviews) -> None:
    """Give new reviews their ids before they are saved, if the project says how.

    REVIEW_ID_ALLOCATOR names a function taking a list of reviews (sharding:
    ids that carry their shard). Without it the database numbers them.
    """
    if path := getattr(settings, "REVIEW_ID_ALLOCATOR", None):
        import_string(path)([r for r in reviews if r.pk is None])


class ReviewQuerySet(models.QuerySet):
    """Tells the routers what a query is about, so that reviews spread over
    several databases (sharding) can be routed without an instance:

    - ``filter(product_id=...)`` and ``filter(pk=...)`` pass the ids on as the
      hints ``product_id`` and ``review_id``;
    - ``create()`` and ``bulk_create()`` route each new review by itself, as
      ``save()`` does, instead of asking for the queryset's one database.

    With a single database for reviews, routers ignore the hints: nothing
    changes.
    """

    LOOKUP_HINTS = {"product_id": "product_id", "pk": "review_id", "id": "review_id"}

    def filter(self, *args, **kwargs):
        clone = super().filter(*args, **kwargs)
        hints = {
            hint: kwargs[k] for k, hint in self.LOOKUP_HINTS.items() if k in kwargs
        }
        # A fresh dict: a clone shares its parent's, which must not change.
        clone._hints = {**clone._hints, **hints}
        return clone

    def __or__(self, other):
        """Rows of either side: a hint holds only if both sides share it
        (``filter(product_id=a) | filter(product_id=b)`` spans two shards)."""
        return self._keep_shared_hints(super().__or__(other), other)

    def __xor__(self, other):
        return self._keep_shared_hints(super().__xor__(other), other)

    def _keep_shared_hints(self, combined, other):
        if combined is self or combined is other:
            return combined  # one side was empty: Django returns the other
        combined._hints = {
            hint: value
            for hint, value in self._hints.items()
            if getattr(other, "_hints", {}).get(hint) == value
        }
        return combined

    def create(self, **kwargs):
        review = self.model(**kwargs)
        review.save(force_insert=True, using=self._db)  # None: the router decides
        return review

    def get_or_create(self, defaults=None, **kwargs):
        hinted = self.filter(**kwargs)
        return super(ReviewQuerySet, hinted).get_or_create(defaults, **kwargs)

    def update_or_create(self, defaults=None, create_defaults=None, **kwargs):
        hinted = self.filter(**kwargs)
        return super(ReviewQuerySet, hinted).update_or_create(
            defaults, create_defaults, **kwargs
        )

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        assign_ids(objs)
        if self._db is not None:
            return super().bulk_create(objs, *args, **kwargs)
        by_database = defaultdict(list)
        for review in objs:
            by_database[router.db_for_write(self.model, instance=review)].append(review)
        for alias, reviews in by_database.items():
            super(ReviewQuerySet, self.using(alias)).bulk_create(
                reviews, *args, **kwargs
            )
        return objs


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

    objects = ReviewQuerySet.as_manager()

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

    def save(self, *args, **kwargs):
        if self._state.adding and self.pk is None:
            assign_ids([self])
            if self.pk is not None:
                kwargs["force_insert"] = True  # a new id: no UPDATE attempt first
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("review", args=[self.pk])
