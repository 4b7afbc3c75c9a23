"""Email: an outbox that apps write to, and the worker job that sends it.

`email_send(...)` only writes an `OutgoingEmail` row, in the caller's transaction: the
email exists exactly when the change that asked for it commits (a rolled-back sign-in
sends no code), and no web request ever waits for an SMTP server. The worker
(`manage.py run_jobs`, job "emails") claims due rows under SELECT ... FOR UPDATE SKIP
LOCKED with a lease (`locked_by`, `locked_until`) and sends them through Django's default
mailer (MAILERS, from EMAIL_URL). A second worker skips what the first holds; a worker
killed mid-send loses nothing, since its lease runs out and the email is sent again, under
the same Message-ID so a mailbox can tell. A failed attempt waits 1 min, 5 min, 30 min,
2 h, then 6 h before the next; after the sixth the email is failed, with its last error,
in the staff admin.

Nothing here logs a subject or a body: they carry sign-in codes and portal links.
"""

import contextlib
import logging
import re
import secrets
import smtplib
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q

from core.models import OutgoingEmail

logger = logging.getLogger(__name__)

# Waits after each failed attempt (about 9 hours in all); then the email fails for good.
RETRY_DELAYS = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
BATCH = 50
ERROR_LENGTH = 1000


def email_send(
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    from_name: str = "",
    reply_to: str = "",
    organization_id=None,
) -> OutgoingEmail:
    """Queue an email to `to`: plain `text`, with `html` as its alternative when given.

    It is written in the caller's transaction and sent by the worker once that commits.
    `from_name` (the merchant's name) is shown with DEFAULT_FROM_EMAIL's address, and
    replies go to `reply_to` when given. Rendering is the caller's (templates). Raises
    ValueError for an address or subject that no email could carry, so the mistake
    surfaces in the change that made it rather than as a failed email later.
    """
    for label, address in (("to", to), ("reply_to", reply_to)):
        if address or label == "to":
            try:
                validate_email(address)
            except ValidationError as error:
                raise ValueError(f"{label} is not an email address.") from error
    if not subject.strip() or "\r" in subject or "\n" in subject:
        raise ValueError("subject must be one line of text.")
    return OutgoingEmail.objects.create(
        organization_id=organization_id,
        to=to,
        subject=subject,
        text=text,
        html=html or "",
        # A merchant's name as a display name: one line, whatever was typed.
        from_name=re.sub(r"\s+", " ", from_name).strip()[:200],
        reply_to=reply_to,
    )


def send_due_emails(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """Send the emails that are due (up to `limit`); return how many were attempted.

    `now` moves the clock (tests pass a later time). One connection serves the batch; an
    email the server refuses, or one that breaks the connection, is recorded as a failed
    attempt and the batch goes on with a new connection. When the server cannot be
    reached at all, every email of the batch records that attempt at once.
    """
    offset = (now - datetime.now(UTC)) if now else timedelta(0)
    token = secrets.token_hex(8)
    claimed = _claim(token, datetime.now(UTC) + offset, limit)
    if not claimed:
        return 0
    connection = mailers.default
    attempted = 0
    try:
        for index, email in enumerate(claimed):
            if not _renew(email, token, datetime.now(UTC) + offset):
                continue  # the batch outlived our lease, and another worker has it now
            try:
                connection.open()
            except Exception as error:  # the server is down: none of the rest can go
                for unsent in claimed[index:]:
                    _record_failure(unsent, token, error, datetime.now(UTC) + offset)
                attempted += len(claimed) - index
                break
            try:
                sent = connection.send_messages([_message(email)])
                if not sent:
                    raise smtplib.SMTPException("the mailer sent nothing")
            except Exception as error:
                # One bad recipient or message must not stop the batch; the connection
                # may be in any state after it, so the next email starts a new one.
                _record_failure(email, token, error, datetime.now(UTC) + offset)
                _close(connection)
            else:
                _record_sent(email, token, datetime.now(UTC) + offset)
            attempted += 1
    finally:
        _close(connection)
    return attempted


def _claim(token: str, now: datetime, limit: int) -> list[OutgoingEmail]:
    with transaction.atomic():
        ids = list(
            OutgoingEmail.objects.select_for_update(skip_locked=True)
            .filter(status=OutgoingEmail.Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        OutgoingEmail.objects.filter(pk__in=ids).update(
            locked_by=token, locked_until=now + _lease()
        )
    return list(
        OutgoingEmail.objects.filter(pk__in=ids, locked_by=token).order_by("next_attempt_at", "pk")
    )


def _renew(email: OutgoingEmail, token: str, now: datetime) -> bool:
    """Extend our lease just before sending; False when the email is no longer ours (a
    batch that waited on a slow server can outlive its lease, and another worker may have
    taken the email: sending it here too would send it twice)."""
    return bool(
        OutgoingEmail.objects.filter(
            pk=email.pk, status=OutgoingEmail.Status.PENDING, locked_by=token
        ).update(locked_until=now + _lease())
    )


def _lease() -> timedelta:
    """How long a worker holds an email: longer than sending one can take. Each SMTP step
    (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, the end of data) may take the whole
    timeout, so a dozen of them, or two minutes if that is longer."""
    return max(timedelta(minutes=2), 12 * timedelta(seconds=settings.EMAIL_TIMEOUT_SECONDS))


def _message(email: OutgoingEmail) -> EmailMultiAlternatives:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    sender = (
        str(Address(display_name=email.from_name, addr_spec=address))
        if email.from_name
        else settings.DEFAULT_FROM_EMAIL
    )
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text,
        from_email=sender,
        to=[email.to],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers={
            # The same on every attempt, so a mailbox can drop a copy sent twice (a worker
            # killed after the server took the message, before it was marked sent).
            "Message-ID": f"<{email.pk}@{address.rpartition('@')[2]}>",
            # Sign-in codes and links: out-of-office replies should not answer them.
            "Auto-Submitted": "auto-generated",
        },
    )
    if email.html:
        message.attach_alternative(email.html, "text/html")
    return message


def _record_sent(email: OutgoingEmail, token: str, now: datetime) -> None:
    recorded = OutgoingEmail.objects.filter(pk=email.pk, locked_by=token).update(
        status=OutgoingEmail.Status.SENT,
        attempts=F("attempts") + 1,
        sent_at=now,
        next_attempt_at=None,
        last_error="",
        locked_by="",
        locked_until=None,
        modified_at=now,
    )
    if not recorded:
        logger.warning("email %s was sent after its lease ran out; it may go twice", email.pk)


def _record_failure(email: OutgoingEmail, token: str, error: Exception, now: datetime) -> None:
    attempts = email.attempts + 1
    failed = attempts >= MAX_ATTEMPTS
    description = describe_error(error)
    OutgoingEmail.objects.filter(pk=email.pk, locked_by=token).update(
        status=OutgoingEmail.Status.FAILED if failed else OutgoingEmail.Status.PENDING,
        attempts=attempts,
        next_attempt_at=None if failed else now + RETRY_DELAYS[attempts - 1],
        last_error=description,
        locked_by="",
        locked_until=None,
        modified_at=now,
    )
    if failed:
        logger.error("email %s failed after %d attempts: %s", email.pk, attempts, description)
    else:
        logger.warning("email %s not sent (attempt %d): %s", email.pk, attempts, description)


def describe_error(error: Exception) -> str:
    """What went wrong, as the admin shows it: the server's code and words for an SMTP
    answer, else the error's type and message."""
    if isinstance(error, smtplib.SMTPRecipientsRefused) and error.recipients:
        code, words = next(iter(error.recipients.values()))
        text = f"SMTP {code} (recipient refused): {_text(words)}"
    elif isinstance(error, smtplib.SMTPResponseException):
        text = f"SMTP {error.smtp_code}: {_text(error.smtp_error)}"
    else:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    # PostgreSQL refuses NUL in text, and a failure that cannot be stored stops the worker.
    return text.replace("\x00", "\ufffd")[:ERROR_LENGTH]


def _text(words: bytes | str) -> str:
    return words.decode("utf-8", errors="replace") if isinstance(words, bytes) else str(words)


def _close(connection) -> None:
    with contextlib.suppress(Exception):  # a broken connection may fail to say goodbye too
        connection.close()
