"""Django's user admin, with times kept exact (exact_times.py) like the site's own."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from .exact_times import ExactTimesAdmin

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ExactTimesUserAdmin(ExactTimesAdmin, UserAdmin):
    pass
