"""Form helpers shared by the dashboard's views."""

from django import forms
from django.core.exceptions import ValidationError


def add_validation_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: each message beside its field when the
    form has that field, above the form otherwise."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)
