"""A row saved in the admin keeps the exact value of every date and time the
form did not change: the admin's time box shows seconds, the database keeps
microseconds."""

import datetime

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.test import TestCase
from django.urls import reverse

from reviewsite.testing import form_values, make_product, make_review
from reviewsite.web.exact_times import ExactTimesAdmin

EXACT = datetime.datetime(2026, 1, 2, 10, 0, 0, 123456, tzinfo=datetime.UTC)


def change_url(row) -> str:
    meta = row._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[row.pk])


class AdminKeepsExactTimesTests(TestCase):
    databases = "__all__"

    def setUp(self):
        User = get_user_model()
        self.client.force_login(User.objects.create_superuser("boss", "b@x.org", "pw"))

    def save_in_admin(self, row, **changes):
        """Open the row's change form, change ``changes``, save; the row as saved."""
        page = self.client.get(change_url(row)).content.decode()
        data = {**form_values(page, f"{row._meta.model_name}_form"), **changes}
        response = self.client.post(change_url(row), data)
        self.assertEqual(response.status_code, 302, response.content[:3000])
        return type(row)._default_manager.get(pk=row.pk)

    def test_a_time_left_unchanged_keeps_its_microseconds_in_every_model(self):
        product = make_product(created=EXACT)
        review = make_review(product, created=EXACT)
        user = get_user_model().objects.create_user(
            "ada", last_login=EXACT, date_joined=EXACT
        )
        cases = [
            (product, {"price": "4.00"}, ["created"]),
            (review, {"text": "Edited"}, ["created"]),
            (user, {"first_name": "Ada"}, ["last_login", "date_joined"]),
        ]
        for row, changes, times in cases:
            with self.subTest(model=row._meta.label):
                saved = self.save_in_admin(row, **changes)
                for name, value in changes.items():
                    self.assertEqual(str(getattr(saved, name)), value)
                for name in times:
                    self.assertEqual(getattr(saved, name), EXACT, name)

    def test_a_time_changed_in_the_form_is_saved_as_typed(self):
        review = make_review(make_product(), created=EXACT)
        saved = self.save_in_admin(review, created_1="11:30:00")
        typed = EXACT.replace(hour=11, minute=30, second=0, microsecond=0)
        self.assertEqual(saved.created, typed)

    def test_every_admin_of_a_model_with_times_keeps_them(self):
        """(So that an admin registered later is not forgotten.)"""
        times = models.DateTimeField | models.TimeField
        for model, model_admin in admin.site._registry.items():
            if any(isinstance(f, times) for f in model._meta.concrete_fields):
                with self.subTest(model=model._meta.label):
                    self.assertIsInstance(model_admin, ExactTimesAdmin)


class FormsOwnChangesTests(TestCase):
    """A time the form itself moves (its clean()) is saved as moved: only the
    time box's cut to the second is put back (BREAK-IT)."""

    databases = "__all__"

    def test_a_time_moved_by_the_forms_clean_is_kept(self):
        from django import forms
        from django.test import RequestFactory

        from reviewsite.products.models import Product

        moved = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)

        class Stamping(forms.ModelForm):
            class Meta:
                model = Product
                fields = ["name", "description", "price", "created"]

            def clean(self):
                return {**super().clean(), "created": moved}

        class StampingAdmin(ExactTimesAdmin):
            form = Stamping

        product = make_product(created=EXACT)
        Form = StampingAdmin(Product, admin.site).get_form(
            RequestFactory().get("/"), product
        )
        data = {"name": product.name, "description": "", "price": "9.99",
                "created_0": "2026-01-02", "created_1": "10:00:00",
                "initial-created_0": "2026-01-02",
                "initial-created_1": "10:00:00"}  # fmt: skip
        form = Form(data, instance=product)
        self.assertTrue(form.is_valid(), form.errors)
        self.assertEqual(form.cleaned_data["created"], moved)
