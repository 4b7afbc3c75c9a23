"""Who is asking: the client's address, the one way every limit (API rate limits, sign-in
protection) reads it."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The address that sent the request: REMOTE_ADDR, or behind our own proxy the last
    X-Forwarded-For entry (the one that proxy appended; earlier entries come from the
    client and can be anything, so trusting the first would let a client pick its own
    address and dodge every per-address limit).

    A request without REMOTE_ADDR came over a unix socket (gunicorn on
    `BIND=unix:/run/customers/web.sock`), which only a local proxy can reach: it is behind
    a proxy whatever BEHIND_PROXY says. Read as "", no address was counted at all, and
    every buyer shared one rate limit."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.BEHIND_PROXY or not address:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            address = forwarded
    return address


def address_key(address: str) -> str:
    """What a per-address limit counts: the address, or for IPv6 its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:255]
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        # One client usually holds a whole /64, so counting single addresses would let it
        # try 2**64 times.
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
