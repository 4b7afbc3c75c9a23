"""Where webhooks may go: http(s) only, and (unless allowed) never to private addresses,
so an endpoint cannot be used to reach services inside our network (SSRF)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError


def check_webhook_url(url: str) -> None:
    """Raise ValidationError unless `url` may receive webhooks."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Use an http:// or https:// URL.", code="scheme")
    if settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        return
    public_address(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def public_address(host: str, port: int) -> str:
    """The address to connect to for `host`, when every address it resolves to is public;
    else ValidationError. The worker connects to exactly this address (see worker.py):
    resolving the name again to connect would let it point elsewhere by then."""
    addresses = _resolve(host, port)
    for address in addresses:
        if not address.is_global:
            raise ValidationError(
                f"{host} resolves to {address}, a private, loopback or link-local "
                "address; webhooks only go to public addresses.",
                code="private",
            )
    return str(addresses[0])


def _resolve(host: str, port: int) -> list[ipaddress._BaseAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        raise ValidationError(f"{host} does not resolve.", code="dns") from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]
