"""`Idempotency-Key` for API POSTs: a retried request (same key, same body, within 24 hours)
gets the original status and body back and writes nothing again, even when the two copies
arrive at the same moment; the same key with a different body is refused.

Keys belong to the organization of the access token. The first request claims the key with
a unique row; a concurrent copy waits for it to finish and then replays its answer.

That wait is the one place a request holds its worker without working, and it is not a
punishment: the copy waits only as long as the first copy takes to answer (polling every
`POLL_SECONDS`), which is about what running it again would have cost, and it answers at
once once the first is done. It is bounded: `WAIT_SECONDS` in all, whatever happens to
the key meanwhile; after that the copy gets a 409 with `Retry-After` and the worker is free.
"""

import hashlib
import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from core.models import IdempotencyKey
from organizations.services import access_token_authenticate

TTL = timedelta(hours=24)
WAIT_SECONDS = 10.0  # the longest a copy waits for the first, in all
POLL_SECONDS = 0.05
MAX_KEY_LENGTH = 255


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get("Idempotency-Key")
        if key is None or request.method != "POST" or not request.path.startswith("/v1/"):
            return self.get_response(request)
        if not key or len(key) > MAX_KEY_LENGTH:
            return _error(
                400, "BadRequest", f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters."
            )
        secret = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        token = access_token_authenticate(secret) if secret else None
        if token is None:
            return self.get_response(request)  # the API answers 401 itself
        fingerprint = hashlib.sha256(
            b"%s %s\n%s" % (request.method.encode(), request.get_full_path().encode(), request.body)
        ).hexdigest()

        record, claimed = _claim(token.organization_id, key, fingerprint)
        if not claimed:
            return _replay(record, fingerprint)
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyKey.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code >= 500 or response.streaming:
            # Nothing useful to replay: let a retry run the request again.
            IdempotencyKey.objects.filter(pk=record.pk).delete()
        else:
            IdempotencyKey.objects.filter(pk=record.pk).update(
                status_code=response.status_code, response_body=response.content
            )
        return response


def _claim(organization_id, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    """Claim the key (True), or the record of the copy that holds it (False): answered,
    for another body, or still running when `WAIT_SECONDS` are up."""
    now = timezone.now()
    IdempotencyKey.objects.filter(
        organization_id=organization_id, key=key, expires_at__lte=now
    ).delete()
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    organization_id=organization_id,
                    key=key,
                    request_hash=fingerprint,
                    expires_at=now + TTL,
                )
            return record, True
        except IntegrityError:
            pass
        while (
            record := IdempotencyKey.objects.filter(
                organization_id=organization_id, key=key
            ).first()
        ) is not None:
            if record.status_code is not None or record.request_hash != fingerprint:
                return record, False
            left = deadline - time.monotonic()
            if left <= 0:
                return record, False
            time.sleep(min(POLL_SECONDS, left))
        # The holder failed and let go of the key: take it (same deadline, so a key that
        # keeps changing hands cannot keep a copy waiting).
        if time.monotonic() >= deadline:
            return IdempotencyKey(request_hash=fingerprint), False  # "still running"


def _replay(record: IdempotencyKey, fingerprint: str) -> HttpResponse:
    if record.request_hash != fingerprint:
        return _error(
            422,
            "IdempotencyKeyReused",
            "This Idempotency-Key was used with a different request; use a new key.",
        )
    if record.status_code is None:
        response = _error(409, "Conflict", "A request with this Idempotency-Key is still running.")
        response["Retry-After"] = "1"
        return response
    response = HttpResponse(
        bytes(record.response_body), status=record.status_code, content_type="application/json"
    )
    response["Idempotent-Replayed"] = "true"
    return response


def _error(status: int, error: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": error, "detail": detail}, status=status)
