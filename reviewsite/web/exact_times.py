"""Times saved through the admin stay exact when they were not changed.

The admin's date and time boxes show seconds, not microseconds: Django's form
compares what was sent with the stored value cut to the second (#22502), so an
untouched time counts as unchanged, but the ModelForm still writes every field
back, the time cut to the second. Saving a row with only its price changed
would change its ``created`` too, and shadowing would record a local change to
a snapshot row that nobody made.
"""

import datetime

from django import forms
from django.contrib import admin


class ExactTimesForm(forms.BaseForm):
    """Puts the stored value back into every date-time field the form did not
    change, so that it is saved exactly as it was read."""

    def clean(self):
        cleaned_data = super().clean()
        for name in cleaned_data.keys() - set(self.changed_data):
            stored = self.initial.get(name)
            # Only the box's own cut: a time the form moved itself is kept.
            if isinstance(stored, datetime.datetime | datetime.time) and (
                cleaned_data[name] == stored.replace(microsecond=0)
            ):
                cleaned_data[name] = stored
        return cleaned_data


class ExactTimesAdmin(admin.ModelAdmin):
    """A ModelAdmin whose forms, whatever their class, are ExactTimesForm's."""

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (ExactTimesForm, form), {})
