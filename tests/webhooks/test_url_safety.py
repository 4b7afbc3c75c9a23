import pytest
from django.core.exceptions import ValidationError

from webhooks import services

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/hook",
        "http://localhost/hook",
        "http://192.168.1.10:8080/x",
    ],
)
def test_private_addresses_are_refused_unless_allowed(organization, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    with pytest.raises(ValidationError) as error:
        services.endpoint_create(organization=organization, url=url, events=["customer.created"])
    assert "private, loopback or link-local" in error.value.message_dict["url"][0]


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "not a url"])
def test_only_http_and_https_are_accepted(organization, url):
    with pytest.raises(ValidationError) as error:
        services.endpoint_create(organization=organization, url=url, events=["customer.created"])
    assert "url" in error.value.message_dict


def test_unknown_event_types_are_refused(organization):
    with pytest.raises(ValidationError, match="Unknown event types: nope"):
        services.endpoint_create(
            organization=organization, url="https://example.com/h", events=["nope"]
        )


def test_the_secret_is_a_standard_webhooks_secret_and_rotates(organization):
    endpoint = services.endpoint_create(
        organization=organization, url="https://203.0.113.10/h", events=["customer.created"]
    )
    assert endpoint.secret.startswith("whsec_")
    old = endpoint.secret
    services.endpoint_rotate_secret(endpoint=endpoint)
    assert endpoint.secret != old
