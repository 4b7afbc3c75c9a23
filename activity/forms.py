from django import forms
from django.core.exceptions import ValidationError

from activity.models import NOTE_MAX_LENGTH
from activity.services import note_body_clean


class NoteForm(forms.Form):
    """A note's text; the rules are the services' (note_body_clean), so the form, the API
    and anything else agree."""

    body = forms.CharField(
        label="Note",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"Plain text, up to {NOTE_MAX_LENGTH:,} characters. Links become clickable.",
    )

    def clean_body(self) -> str:
        try:
            return note_body_clean(self.cleaned_data["body"])
        except ValidationError as error:
            raise ValidationError(error.message_dict["body"]) from None
