"""Request logs and what never goes into them.

Every request gets an ID (kept from a well-formed incoming X-Request-ID, otherwise new),
returned in the X-Request-ID header and written in one JSON line with the method, path,
status, duration and organization. A logging filter scrubs secrets and emails from every
log record, ours and Django's alike.
"""

import json
import logging
import re
import time
import uuid

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("customers.requests")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
SECRETS = [
    (re.compile(r"polar_oat_[A-Za-z0-9_-]+"), "polar_oat_[redacted]"),
    (re.compile(r"polar_c_[A-Za-z0-9_-]+"), "polar_c_[redacted]"),
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_[redacted]"),
    (re.compile(r"(?i)bearer\s+\S+"), "Bearer [redacted]"),
    (re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"(?i)(password|secret|token)=[^&\s]+"), r"\1=[redacted]"),
]


def scrub(text: str) -> str:
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Attach to every handler: no token, webhook secret, checkout secret, password or
    email reaches a log line, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_text is None and record.exc_info[1] is not None:
            # Tracebacks can quote values too (a failed lookup, a bad email).
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = scrub(formatted)
            record.exc_info = None
        return True


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        started = time.monotonic()
        response = self.get_response(request)
        response["X-Request-ID"] = request.id
        organization = getattr(request, "organization", None)
        if organization is None and request.resolver_match is not None:
            slug = request.resolver_match.kwargs.get("org_slug")
        else:
            slug = getattr(organization, "slug", None)
        logger.info(
            json.dumps(
                {
                    "request_id": request.id,
                    "method": request.method,
                    "path": scrub(request.path),
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "organization": slug,
                },
                separators=(",", ":"),
            )
        )
        return response
