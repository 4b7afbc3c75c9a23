"""The renewals job (registered with core.jobs, run by `manage.py run_jobs`): due
subscriptions a batch at a time, polled once a minute when none is due. Each renewal is
locked with SKIP LOCKED (orders.services.renew_due_subscriptions), so any number of
workers share them and no subscription is charged twice."""

from orders.services import renew_due_subscriptions

RENEWALS_BATCH = 100
RENEWALS_EVERY_SECONDS = 60.0


def renew_due() -> int:
    """Renew up to a batch of due subscriptions; how many were handled."""
    return renew_due_subscriptions(limit=RENEWALS_BATCH).total
