"""Failed sign-ins, counted per account (username) and per client address."""

from django.db import models
from django.utils import timezone


class SignInLock(models.Model):
    """The failures of one username or one address in the current window, and the lock
    they led to. One row per (kind, key); a sign-in is refused while `locked_until` is in
    the future."""

    class Kind(models.TextChoices):
        USERNAME = "username", "Username"
        ADDRESS = "address", "IP address"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Usernames are case-folded, so "Owner" and "owner" share one counter; an IPv6 client
    # is counted by its /64 network, which one client usually holds whole.
    key = models.CharField(max_length=255)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(default=timezone.now)
    last_failure_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "sign-in lock"
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="sign_in_lock_per_kind_key")
        ]
        # Stale rows are pruned by their last failure.
        indexes = [models.Index(fields=["last_failure_at"], name="sign_in_lock_last_failure")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key}"

    def is_locked(self, now=None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or timezone.now())
