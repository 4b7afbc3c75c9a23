"""How every form's fields are drawn (settings.FORM_RENDERER): each field is one grid cell
holding its label (above, no colon), its control, its error and its help; the first field
in error gets the focus."""

from functools import cached_property
from pathlib import Path

import django.forms
from django.conf import settings
from django.forms import BoundField
from django.forms.renderers import DjangoTemplates

DJANGO_FORM_TEMPLATES = Path(django.forms.__file__).parent / "templates"


def first_field_in_error(form) -> str | None:
    """The name of the first visible field that has an error, in the form's order."""
    if not form.is_bound:
        return None
    errors = form.errors
    for name, field in form.fields.items():
        if name in errors and not field.widget.is_hidden and not field.disabled:
            return name
    return None


class DashboardBoundField(BoundField):
    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        first = first_field_in_error(self.form)
        if first is not None:
            # False also drops an autofocus the widget set for itself (the sign-in
            # form's username), so only the field to fix is focused.
            attrs["autofocus"] = self.name == first
        return attrs


class DashboardFormRenderer(DjangoTemplates):
    field_template_name = "forms/field.html"
    bound_field_class = DashboardBoundField

    @cached_property
    def engine(self):
        # Our templates/ first (forms/field.html), then Django's widget templates.
        return self.backend(
            {
                "APP_DIRS": True,
                "DIRS": [*settings.TEMPLATES[0]["DIRS"], DJANGO_FORM_TEMPLATES],
                "NAME": "dashboardforms",
                "OPTIONS": {},
            }
        )
