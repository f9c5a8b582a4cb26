class FunctionalRouter:
    """Keep the reviews app in the ``reviews`` database; the rest in ``default``."""

    route_app_labels = {"reviews"}

    def db_for_read(self, model, **hints):
        """Reviews are read from ``reviews``."""
        if model._meta.app_label in self.route_app_labels:
            return "reviews"
        return None

    def db_for_write(self, model, **hints):
        """Reviews are written to ``reviews``."""
        if model._meta.app_label in self.route_app_labels:
            return "reviews"
        return None

    def allow_relation(self, obj1, obj2, **hints):
        """Refuse a relation between a review and anything outside ``reviews``:
        the two databases cannot join or enforce it."""
        in_reviews = [o._meta.app_label in self.route_app_labels for o in (obj1, obj2)]
        if in_reviews[0] != in_reviews[1]:
            return False
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        """Review tables only in ``reviews``, and no other table there."""
        if app_label in self.route_app_labels:
            return db == "reviews"
        if db == "reviews":
            return False
        return None
