"""Forms validate and normalise; the rules (public http(s) URL, known events, at least one)
live in webhooks/services.py, whose errors land beside these fields."""

from django import forms

from webhooks.models import EventType, WebhookEndpoint


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        max_length=2000,
        label="Endpoint URL",
        help_text="Where we POST each event, signed with the endpoint's secret.",
        error_messages={"required": "Enter the URL that receives the events."},
        assume_scheme="https",
    )
    all_events = forms.BooleanField(
        required=False,
        label="Select all",
        help_text="Every event type below, whatever is ticked.",
    )
    events = forms.MultipleChoiceField(
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Events",
    )

    @classmethod
    def for_endpoint(cls, endpoint: WebhookEndpoint, data=None) -> "WebhookEndpointForm":
        initial = {
            "url": endpoint.url,
            "events": endpoint.events,
            "all_events": set(endpoint.events) == set(EventType.values),
        }
        return cls(data, initial=initial)

    def clean(self):
        cleaned = super().clean()
        # "Select all" works without JavaScript: the server ticks every box.
        if cleaned.get("all_events"):
            cleaned["events"] = list(EventType.values)
        elif not cleaned.get("events") and "events" not in self.errors:
            # Said here too (the service says it as well), so it shows with a URL error.
            self.add_error("events", "Choose at least one event type.")
        return cleaned
