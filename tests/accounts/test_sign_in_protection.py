"""Sign-in protection: failed sign-ins per username and per address make the next try wait
(refused at once, never slept), then lock for a while; sessions rotate on sign-in and end
elsewhere on a password change."""

import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import SignInLock
from accounts.services import sign_in_failure_record, sign_in_refusal
from core.clients import address_key, client_address
from tests.conftest import PASSWORD
from tests.customers.test_concurrency import race

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed sign-ins. Try again in 15 minutes."
WRONG = "Please enter a correct username and password"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    """No request may sleep to punish a client: a sleeping worker serves nobody else. Any
    `time.sleep` our code reaches, also one imported as `from time import sleep`, fails."""
    real_sleep = time.sleep

    def refuse(seconds):
        raise AssertionError(f"a request slept {seconds}s")

    monkeypatch.setattr(time, "sleep", refuse)
    ours = {"accounts", "config", "core", "customers", "organizations"}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ours and getattr(module, "sleep", None) is real_sleep:
            monkeypatch.setattr(module, "sleep", refuse)


def wait_out_the_pause():
    """What a patient client does between tries: let the pause after a failure run out
    (here by moving the failures back in time, never by sleeping)."""
    pause = timedelta(seconds=settings.SIGN_IN_SLOWDOWN_MAX_SECONDS)
    SignInLock.objects.update(last_failure_at=F("last_failure_at") - pause)


def sign_in(client: Client, username: str, password: str, address: str = "127.0.0.1", **extra):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **extra,
    )


def fail(client: Client, times: int, username: str = "owner", address: str = "127.0.0.1"):
    """`times` wrong passwords, each sent once the previous failure's pause is over."""
    responses = []
    for _ in range(times):
        responses.append(sign_in(client, username, "wrong-password", address))
        wait_out_the_pause()
    return responses


def is_signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


# --- Per username ------------------------------------------------------------------------


def test_it_locks_a_username_after_five_failures_in_the_window(client, owner):
    responses = fail(client, 5)
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    assert all(WRONG in r.text for r in responses[:4])
    assert LOCKED in responses[4].text

    # Locked even with the right password, which is not even checked.
    response = sign_in(client, "owner", PASSWORD)
    assert response.status_code == 429
    assert LOCKED in response.text
    assert not is_signed_in(client)


def test_the_lock_holds_from_another_address_and_in_another_case(client, owner):
    fail(client, 5)
    response = sign_in(Client(), "OWNER", PASSWORD, address="203.0.113.9")
    assert LOCKED in response.text


def test_a_lock_does_not_grow_while_it_holds(client, owner):
    fail(client, 5)
    fail(client, 3)
    lock = SignInLock.objects.get(kind="username", key="owner")
    assert lock.failures == 5


def test_the_message_says_how_many_minutes_are_left(client, owner):
    fail(client, 5)
    lock = SignInLock.objects.filter(kind="username", key="owner")
    lock.update(locked_until=timezone.now() + timedelta(seconds=61))
    assert "Try again in 2 minutes." in sign_in(client, "owner", PASSWORD).text
    lock.update(locked_until=timezone.now() + timedelta(seconds=20))
    assert "Try again in 1 minute." in sign_in(client, "owner", PASSWORD).text


def test_the_lock_expires_and_counting_starts_over(client, owner):
    fail(client, 5)
    SignInLock.objects.filter(kind="username").update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    response = sign_in(client, "owner", "wrong-password")
    assert WRONG in response.text
    assert SignInLock.objects.get(kind="username", key="owner").failures == 1

    wait_out_the_pause()  # the address counts its sixth failure, and asks for a pause
    sign_in(client, "owner", PASSWORD)
    assert is_signed_in(client)


def test_failures_older_than_the_window_are_forgotten(client, owner):
    fail(client, 4)
    SignInLock.objects.update(window_started_at=timezone.now() - timedelta(minutes=16))
    response = fail(client, 1)[0]
    assert WRONG in response.text
    assert SignInLock.objects.get(kind="username", key="owner").failures == 1


def test_a_successful_sign_in_clears_the_usernames_count_but_not_the_addresss(client, owner):
    fail(client, 4)
    sign_in(client, "owner", PASSWORD)
    assert is_signed_in(client)
    assert SignInLock.objects.get(kind="username").failures == 0
    assert SignInLock.objects.get(kind="address", key="127.0.0.1").failures == 4

    client.logout()
    responses = fail(client, 4)
    assert all(WRONG in r.text for r in responses)


def test_each_failure_after_the_first_makes_the_next_try_wait_longer(owner, settings):
    settings.SIGN_IN_SLOWDOWN_SECONDS = 0.5
    settings.SIGN_IN_SLOWDOWN_MAX_SECONDS = 1.2
    pauses = []
    for _ in range(4):
        sign_in_failure_record(username="owner", address="127.0.0.1")
        refusal = sign_in_refusal(username="owner", address="127.0.0.1")
        last_failure = SignInLock.objects.get(kind="username").last_failure_at
        pauses.append(0 if refusal is None else (refusal.until - last_failure).total_seconds())
        assert refusal is None or not refusal.locked
    assert pauses == [0, 0.5, 1.0, 1.2]


def test_a_try_during_the_pause_is_refused_at_once_with_a_429(client, owner, settings):
    settings.SIGN_IN_SLOWDOWN_SECONDS = 2
    settings.SIGN_IN_SLOWDOWN_MAX_SECONDS = 3
    assert WRONG in sign_in(client, "owner", "wrong-password").text
    assert WRONG in sign_in(client, "owner", "wrong-password").text  # a first slip is free

    # The second failure asks for 2 seconds: even the right password is not checked before.
    response = sign_in(client, "owner", PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == "2"
    assert "Too many failed sign-ins. Try again in 2 seconds." in response.text
    assert not is_signed_in(client)
    # A refused try is not a failure: it neither counts nor makes the pause longer.
    assert SignInLock.objects.get(kind="username").failures == 2
    assert sign_in(client, "owner", "wrong-password")["Retry-After"] == "2"

    SignInLock.objects.update(last_failure_at=F("last_failure_at") - timedelta(seconds=1.5))
    response = sign_in(client, "owner", PASSWORD)
    assert "Try again in 1 second." in response.text
    assert response["Retry-After"] == "1"

    wait_out_the_pause()
    sign_in(client, "owner", PASSWORD)
    assert is_signed_in(client)


def test_the_address_pause_holds_for_every_username(client, owner, settings):
    settings.SIGN_IN_SLOWDOWN_SECONDS = 1
    sign_in(client, "guess-1", "x")
    sign_in(client, "guess-2", "x")
    response = sign_in(client, "owner", PASSWORD)
    assert response.status_code == 429
    assert "Try again in 1 second." in response.text
    other = Client()
    sign_in(other, "owner", PASSWORD, address="198.51.100.7")
    assert is_signed_in(other)


def test_a_locked_sign_in_says_when_to_retry_in_retry_after(client, owner):
    fail(client, 5)
    SignInLock.objects.filter(kind="username").update(
        locked_until=timezone.now() + timedelta(seconds=599.5)
    )
    response = sign_in(client, "owner", PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == "600"
    assert "Try again in 10 minutes." in response.text


def test_a_wrong_password_is_answered_without_retry_after(client, owner):
    response = sign_in(client, "owner", "wrong-password")
    assert response.status_code == 200
    assert "Retry-After" not in response


def test_the_limits_are_settings(client, owner, settings):
    settings.SIGN_IN_USERNAME_MAX_FAILURES = 2
    settings.SIGN_IN_LOCK_MINUTES = 3
    responses = fail(client, 2)
    assert "Too many failed sign-ins. Try again in 3 minutes." in responses[1].text


# --- Per address ---------------------------------------------------------------------------


def test_it_locks_an_address_after_twenty_failures_across_usernames(client, owner):
    responses = [r for n in range(4) for r in fail(client, 5, username=f"guess-{n}")]
    assert [r.status_code for r in responses].count(429) == 4  # each username, at its 5th
    assert LOCKED in responses[-1].text
    # The 20th failure from this address locked it, for every username.
    response = sign_in(client, "owner", PASSWORD)
    assert response.status_code == 429
    assert LOCKED in response.text
    assert not is_signed_in(client)

    # The owner's account itself is not locked: another address signs in.
    other = Client()
    sign_in(other, "owner", PASSWORD, address="198.51.100.7")
    assert is_signed_in(other)


def test_x_forwarded_for_is_ignored_unless_behind_a_proxy(client, owner, settings):
    settings.SIGN_IN_ADDRESS_MAX_FAILURES = 3
    for n in range(3):
        sign_in(client, f"guess-{n}", "x", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
        wait_out_the_pause()
    response = sign_in(client, "owner", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert LOCKED in response.text
    assert not is_signed_in(client)


def test_behind_a_proxy_the_address_is_the_last_forwarded_one(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    assert client_address(request) == "10.0.0.1"
    settings.BEHIND_PROXY = True
    # The first entry is whatever the client sent; the last is what our proxy saw.
    assert client_address(request) == "203.0.113.5"
    assert client_address(rf.get("/", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"


def test_behind_a_proxy_each_forwarded_client_has_its_own_count(client, owner, settings):
    settings.BEHIND_PROXY = True
    settings.SIGN_IN_ADDRESS_MAX_FAILURES = 3
    for n in range(3):
        sign_in(client, f"guess-{n}", "x", HTTP_X_FORWARDED_FOR="192.0.2.1")
        wait_out_the_pause()
    assert LOCKED in sign_in(client, "owner", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.1").text
    sign_in(client, "owner", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.2")
    assert is_signed_in(client)


def test_an_ipv6_client_is_counted_by_its_64_network():
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("192.0.2.1") == "192.0.2.1"


def test_rows_with_nothing_left_to_count_are_pruned(client, owner):
    fail(client, 2, username="long-ago")
    SignInLock.objects.update(last_failure_at=timezone.now() - timedelta(minutes=16))
    fail(client, 1)
    assert set(SignInLock.objects.values_list("kind", "key")) == {
        ("username", "owner"),
        ("address", "127.0.0.1"),
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_all_counted(postgres_only):
    # Guesses sent in parallel must not slip through as lost updates of the counter.
    results = race(lambda i: sign_in_failure_record(username="owner", address="192.0.2.1"), n=6)
    assert not [r for r in results if isinstance(r, Exception)], results
    lock = SignInLock.objects.get(kind="username", key="owner")
    assert lock.failures == 5  # the sixth found it locked and counted nothing
    assert lock.locked_until is not None
    assert SignInLock.objects.get(kind="address", key="192.0.2.1").failures == 6


# --- The admin ---------------------------------------------------------------------------


def test_staff_see_the_locks_and_clear_them(client, owner, staff):
    fail(client, 5)
    staff_client = Client()
    staff_client.force_login(staff)
    url = reverse("admin:accounts_signinlock_changelist")
    page = staff_client.get(url).text
    for text in ["Username", "IP address", "owner", "127.0.0.1", "Locked", "Clear selected locks"]:
        assert text in page
    assert "Delete selected" not in page
    assert "owner" in staff_client.get(url, {"status": "locked"}).text

    lock = SignInLock.objects.get(kind="username", key="owner")
    response = staff_client.post(
        url, {"action": "clear_selected_locks", "_selected_action": [lock.pk]}, follow=True
    )
    assert "Cleared 1 lock" in response.text
    assert not SignInLock.objects.filter(kind="username").exists()

    sign_in(client, "owner", PASSWORD)
    assert is_signed_in(client)


def test_staff_clear_a_lock_from_its_own_page(client, owner, staff):
    fail(client, 5)
    lock = SignInLock.objects.get(kind="username", key="owner")
    staff_client = Client()
    staff_client.force_login(staff)
    url = reverse("admin:accounts_signinlock_change", args=[lock.pk])
    assert "Clear this lock" in staff_client.get(url).text
    response = staff_client.post(
        url, {"CHANGE_FORM-action": "clear_selected_locks", "_selected_action": lock.pk}
    )
    assert response.status_code == 302
    assert response.url == reverse("admin:accounts_signinlock_changelist")
    assert not SignInLock.objects.filter(pk=lock.pk).exists()


def test_the_admins_own_sign_in_page_is_protected_too(client, staff):
    url = reverse("admin:login")
    for _ in range(5):
        client.post(url, {"username": "staff", "password": "nope"}, REMOTE_ADDR="127.0.0.1")
        wait_out_the_pause()
    response = client.post(url, {"username": "staff", "password": PASSWORD})
    assert LOCKED in response.text
    assert response.status_code == 429 and int(response["Retry-After"]) > 60
    assert not is_signed_in(client)


def test_the_admins_sign_in_page_refuses_a_try_during_the_pause(client, staff, settings):
    settings.SIGN_IN_SLOWDOWN_SECONDS = 1
    url = reverse("admin:login")
    for _ in range(2):
        client.post(url, {"username": "staff", "password": "nope"})
    response = client.post(url, {"username": "staff", "password": PASSWORD})
    assert "Too many failed sign-ins. Try again in 1 second." in response.text
    assert (response.status_code, response["Retry-After"]) == (429, "1")
    assert not is_signed_in(client)


# --- Sessions ------------------------------------------------------------------------------


def test_signing_in_rotates_the_session_key(client, owner):
    before = client.session  # an anonymous session, as a visitor would have
    before["seen"] = True
    before.save()
    old_key = before.session_key

    sign_in(client, "owner", PASSWORD)

    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != old_key
    assert not SessionStore().exists(old_key)
    assert is_signed_in(client)


def test_changing_the_password_ends_the_users_other_sessions(client, owner):
    sign_in(client, "owner", PASSWORD)
    elsewhere = Client()
    sign_in(elsewhere, "owner", PASSWORD, address="198.51.100.7")
    old_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    customers = reverse("customers:list", args=["acme"])
    assert elsewhere.get(customers).status_code == 200

    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-passphrase-2026",
            "new_password2": "a-new-long-passphrase-2026",
        },
        follow=True,
    )
    assert "Your password was changed." in response.text

    # This session goes on, under a new key.
    assert client.get(customers).status_code == 200
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != old_cookie
    # The other session, and this session's old cookie, no longer work.
    assert elsewhere.get(customers).url.startswith(reverse("login"))
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_cookie
    assert replay.get(customers).url.startswith(reverse("login"))


def test_the_new_password_goes_through_the_validators(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 200
    assert "This password is too common." in response.text
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_a_wrong_old_password_is_refused(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "not-it",
            "new_password1": "a-new-long-passphrase-2026",
            "new_password2": "a-new-long-passphrase-2026",
        },
    )
    assert "Your old password was entered incorrectly." in response.text


def test_the_menu_links_to_the_password_page(client, owner):
    client.force_login(owner)
    page = client.get(reverse("customers:list", args=["acme"])).text
    assert f'href="{reverse("password_change")}"' in page
