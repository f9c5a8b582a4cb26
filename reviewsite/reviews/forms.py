from django import forms
from django.contrib.auth import get_user_model
from django.db import router

from reviewsite.products.models import Product

from .models import Review


class ReviewForm(forms.ModelForm):
    """What a visitor writes. The view sets the product and the author."""

    class Meta:
        model = Review
        fields = ["rating", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 5})}


class ReviewAdminForm(forms.ModelForm):
    """The admin's form: the ids of the product and author are checked by hand,
    since no foreign key constraint can do it across databases."""

    class Meta:
        model = Review
        fields = ["product_id", "author_id", "rating", "text", "created"]

    def clean_product_id(self) -> int:
        product_id = self.cleaned_data["product_id"]
        if not self.rows(Product).filter(pk=product_id).exists():
            raise forms.ValidationError(f"There is no product with id {product_id}.")
        return product_id

    def clean_author_id(self) -> int | None:
        author_id = self.cleaned_data["author_id"]
        if author_id is not None and not (
            self.rows(get_user_model()).filter(pk=author_id).exists()
        ):
            raise forms.ValidationError(f"There is no user with id {author_id}.")
        return author_id

    def rows(self, model):
        """Where to look for a product or user: where it is written, since the
        answer feeds a write (a replica may still hold a deleted product).
        Shadowing looks in its overlay."""
        return model.objects.db_manager(router.db_for_write(model)).all()
