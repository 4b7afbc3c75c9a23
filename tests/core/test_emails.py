"""Email: queued in the caller's transaction, sent by the worker to a real SMTP server."""

import io
import logging
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import mailers
from django.core.management import call_command
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from config.settings import mailer_from_email_url
from core import emails, jobs
from core.emails import email_send, send_due_emails
from core.models import OutgoingEmail
from tests.core.test_settings import ROOT, run_django

CODE = "493027"  # a sign-in code: it must reach the mailbox and nowhere else


def queue(**overrides) -> OutgoingEmail:
    fields = {
        "to": "ada@example.com",
        "subject": "Your sign-in code",
        "text": f"Your code is {CODE}.",
        "html": f"<p>Your code is <strong>{CODE}</strong>.</p>",
        "from_name": "Acme",
        "reply_to": "support@acme.example",
    }
    return email_send(**(fields | overrides))


def later(minutes: float):
    return timezone.now() + timedelta(minutes=minutes)


@pytest.fixture(autouse=True)
def _sender(settings):
    settings.DEFAULT_FROM_EMAIL = "Customers <noreply@customers.example>"


# --- Settings: EMAIL_URL becomes the default mailer -------------------------------------


def test_consolemail_prints_to_the_console():
    assert mailer_from_email_url("consolemail://", timeout=10) == {
        "BACKEND": "django.core.mail.backends.console.EmailBackend"
    }


def test_smtp_tls_sets_starttls_the_port_and_the_decoded_credentials(settings):
    mailer = mailer_from_email_url(
        "smtp+tls://mailer%40acme.example:s%2Fcr%40t@smtp.example.com:587", timeout=7
    )
    assert mailer == {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": "smtp.example.com",
            "port": 587,
            "username": "mailer@acme.example",
            "password": "s/cr@t",
            "use_tls": True,
            "use_ssl": False,
            "timeout": 7,
        },
    }
    # Django takes these options as they are.
    settings.MAILERS = {"default": mailer}
    backend = mailers.default
    assert (backend.host, backend.port, backend.use_tls, backend.timeout) == (
        "smtp.example.com",
        587,
        True,
        7,
    )


@pytest.mark.parametrize(
    ("url", "use_tls", "use_ssl", "port"),
    [
        ("smtp://mail.example.com", False, False, 25),
        ("smtp+tls://mail.example.com", True, False, 587),
        ("smtp+ssl://mail.example.com", False, True, 465),
        ("smtp://mail.example.com:2525", False, False, 2525),
    ],
)
def test_each_smtp_scheme_gets_its_security_and_port(settings, url, use_tls, use_ssl, port):
    settings.MAILERS = {"default": mailer_from_email_url(url, timeout=10)}
    backend = mailers.default
    assert (backend.use_tls, backend.use_ssl, backend.port) == (use_tls, use_ssl, port)
    assert (backend.username, backend.password) == (None, None)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("smtps://mail.example.com", "EMAIL_URL must start with one of smtp://"),
        ("mailto:someone@example.com", "got scheme 'mailto'"),
        ("not a url", "got scheme ''"),
        ("smtp://", "needs a host"),
        ("smtp://mail.example.com:port", "EMAIL_URL is malformed"),
        ("smtp://mail.example.com?tls=true", "takes no query options"),
    ],
)
def test_a_bad_email_url_is_refused_naming_the_problem(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        mailer_from_email_url(url, timeout=10)


def test_a_bad_email_url_stops_the_app_at_start():
    result = run_django({"EMAIL_URL": "smtp://"}, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "needs a host" in result.stderr


def test_a_bad_sender_address_stops_the_app_at_start():
    result = run_django({"DEFAULT_FROM_EMAIL": "Customers"}, "check")
    assert result.returncode != 0
    assert "DEFAULT_FROM_EMAIL must be an address" in result.stderr


def test_by_default_the_worker_prints_emails_to_its_console(tmp_path):
    # What `make demo` shows: the default EMAIL_URL, a real worker process.
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    assert run_django(env, "migrate", "-v", "0").returncode == 0
    queued = run_django(
        env,
        "shell",
        "-c",
        "from core.emails import email_send; "
        "email_send(to='ada@example.com', subject='Hello from the demo', text='It works.')",
    )
    assert queued.returncode == 0, queued.stderr
    result = run_django(env, "run_jobs", "--once", "--only", "emails")
    assert result.returncode == 0, result.stderr
    assert "Subject: Hello from the demo" in result.stdout
    assert "It works." in result.stdout
    assert result.stdout.strip().endswith("emails: 1")


# --- Queueing -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_queues_a_pending_email_and_sends_nothing_yet(smtp_server, organization):
    email = queue(organization_id=organization.pk)
    email.refresh_from_db()
    assert (email.status, email.attempts, email.organization_id) == (
        OutgoingEmail.Status.PENDING,
        0,
        organization.pk,
    )
    assert email.next_attempt_at <= timezone.now()
    assert smtp_server.messages == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"to": "not an address"}, "to is not an email address"),
        ({"to": ""}, "to is not an email address"),
        ({"reply_to": "nope"}, "reply_to is not an email address"),
        ({"subject": "Hello\nBcc: everyone@example.com"}, "subject must be one line"),
        ({"subject": "  "}, "subject must be one line"),
    ],
)
def test_it_refuses_what_no_email_could_carry(overrides, message):
    with pytest.raises(ValueError, match=message):
        queue(**overrides)
    assert not OutgoingEmail.objects.exists()


@pytest.mark.django_db
def test_a_merchant_name_becomes_one_line():
    assert queue(from_name="  Acme\r\nBcc: x@example.com ").from_name == "Acme Bcc: x@example.com"


# --- Sending --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rolled_back_transaction_sends_nothing(smtp_server):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue()
        raise RuntimeError("the sign-in failed after asking for its code")
    assert send_due_emails() == 0
    assert smtp_server.messages == []


@pytest.mark.django_db
def test_the_worker_delivers_a_committed_email_with_both_parts(smtp_server):
    email = queue()
    out = io.StringIO()
    call_command("run_jobs", once=True, only=["emails"], stdout=out)
    assert out.getvalue().splitlines() == ["emails: 1"]

    [message] = smtp_server.messages
    assert message["Subject"] == "Your sign-in code"
    assert message["To"] == "ada@example.com"
    assert message["From"].addresses[0].display_name == "Acme"
    assert message["From"].addresses[0].addr_spec == "noreply@customers.example"
    assert message["Reply-To"] == "support@acme.example"
    assert message["Message-ID"] == f"<{email.pk}@customers.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().strip() == f"Your code is {CODE}."
    assert f"<strong>{CODE}</strong>" in message.get_body(("html",)).get_content()
    assert smtp_server.envelopes == [("noreply@customers.example", ["ada@example.com"])]

    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == ("sent", 1, "")
    assert email.sent_at is not None and email.next_attempt_at is None
    assert (email.locked_by, email.locked_until) == ("", None)
    assert send_due_emails() == 0  # sent once, never again


@pytest.mark.django_db
def test_a_text_only_email_without_a_name_or_reply_to_uses_the_plain_sender(smtp_server):
    queue(html=None, from_name="", reply_to="")
    send_due_emails()
    [message] = smtp_server.messages
    assert message.get_content_type() == "text/plain"
    assert message["From"] == "Customers <noreply@customers.example>"
    assert "Reply-To" not in message


@pytest.mark.django_db
def test_a_refusing_server_schedules_a_retry_that_succeeds_later(smtp_server):
    email = queue()
    smtp_server.refuse = "550 5.1.1 Mailbox unavailable"
    before = timezone.now()
    assert send_due_emails() == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("pending", 1)
    assert email.last_error == "SMTP 550 (recipient refused): 5.1.1 Mailbox unavailable"
    assert before + timedelta(seconds=59) <= email.next_attempt_at <= later(1.1)
    assert smtp_server.messages == []

    smtp_server.refuse = ""
    assert send_due_emails() == 0  # not due again yet
    assert send_due_emails(now=later(2)) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == ("sent", 2, "")
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db
def test_a_server_that_is_down_fails_the_batch_then_sends_it_when_up(smtp_server):
    queued = [queue(to=f"customer{i}@example.com") for i in range(3)]
    smtp_server.stop()
    assert send_due_emails() == 3
    for email in queued:
        email.refresh_from_db()
        assert (email.status, email.attempts) == ("pending", 1)
        assert email.last_error.startswith("ConnectionRefusedError")
        assert email.next_attempt_at > timezone.now()

    smtp_server.start()  # the same port
    assert send_due_emails(now=later(2)) == 3
    assert sorted(m["To"] for m in smtp_server.messages) == [e.to for e in queued]
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_one_refused_recipient_does_not_stop_the_batch(smtp_server):
    first, bad, last = (queue(to=f"{who}@example.com") for who in ("first", "bad", "last"))
    smtp_server.refuse_to["bad@example.com"] = "550 5.1.1 No such user"
    assert send_due_emails() == 3
    assert [m["To"] for m in smtp_server.messages] == ["first@example.com", "last@example.com"]
    statuses = dict(OutgoingEmail.objects.values_list("to", "status"))
    assert statuses == {first.to: "sent", bad.to: "pending", last.to: "sent"}


@pytest.mark.django_db
def test_retries_back_off_then_the_email_fails_with_its_last_error(smtp_server):
    email = queue()
    smtp_server.refuse = "550 5.7.1 Relaying denied"
    now = timezone.now()
    waits = []
    for _ in range(emails.MAX_ATTEMPTS):
        assert send_due_emails(now=now) == 1
        email.refresh_from_db()
        if email.next_attempt_at:
            waits.append(round((email.next_attempt_at - now).total_seconds() / 60))
            now = email.next_attempt_at
    assert waits == [1, 5, 30, 120, 360]
    assert (email.status, email.attempts, email.next_attempt_at) == ("failed", 6, None)
    assert email.last_error == "SMTP 550 (recipient refused): 5.7.1 Relaying denied"
    assert send_due_emails(now=later(24 * 60)) == 0  # failed for good


@pytest.mark.django_db
def test_a_killed_workers_email_is_sent_once_its_lease_runs_out(smtp_server):
    email = queue()
    # A worker claims it, then dies before sending.
    [claimed] = emails._claim("dead-worker", timezone.now(), 50)
    assert send_due_emails() == 0  # still leased
    assert send_due_emails(now=later(3)) == 1  # the two-minute lease has run out
    assert len(smtp_server.messages) == 1
    email.refresh_from_db()
    assert email.status == "sent"
    # Were the first worker only slow, it would find the email is no longer its own.
    assert not emails._renew(claimed, "dead-worker", timezone.now())


@pytest.mark.django_db
def test_nothing_sensitive_is_logged(smtp_server, caplog):
    email = queue()
    smtp_server.refuse = "550 5.1.1 Mailbox unavailable"
    with caplog.at_level(logging.DEBUG):
        send_due_emails()
    assert str(email.pk) in caplog.text
    assert CODE not in caplog.text and "sign-in code" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_two_racing_workers_send_each_email_once(postgres_only, smtp_server):
    queued = [queue(to=f"customer{i}@example.com") for i in range(40)]
    start = threading.Barrier(2)
    attempted = []

    def worker():
        try:
            start.wait()
            while done := send_due_emails(limit=3):
                attempted.append(done)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(attempted) == 40
    message_ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(message_ids) == len(set(message_ids)) == 40
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(e.to for e in queued)
    assert set(OutgoingEmail.objects.values_list("status", "attempts")) == {("sent", 1)}


# --- The worker and the admin --------------------------------------------------------------


def test_the_emails_job_is_registered():
    assert jobs.registered()["emails"] is send_due_emails


@pytest.mark.django_db
def test_staff_see_the_outbox_without_the_bodies(client, staff, django_assert_num_queries):
    queue()
    send_due_emails()  # to locmem, the tests' default mailer
    failed = queue(to="bounce@example.com")
    OutgoingEmail.objects.filter(pk=failed.pk).update(
        status="failed", last_error="SMTP 550: no such user"
    )
    client.force_login(staff)
    # session, user, capped count, rows
    with django_assert_num_queries(4):
        page = client.get(reverse("admin:core_outgoingemail_changelist"), {"status": "failed"})
    assert page.status_code == 200
    assert "bounce@example.com" in page.text and "ada@example.com" not in page.text
    detail = client.get(reverse("admin:core_outgoingemail_change", args=[failed.pk])).text
    assert "SMTP 550: no such user" in detail
    assert CODE not in detail
    assert client.get(reverse("admin:core_outgoingemail_add")).status_code == 403


def test_the_readme_documents_every_email_setting():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Email\n", 1)[1].split("\n## ", 1)[0]
    for name in ("EMAIL_URL", "DEFAULT_FROM_EMAIL", "EMAIL_TIMEOUT", "run_jobs --only emails"):
        assert name in section
