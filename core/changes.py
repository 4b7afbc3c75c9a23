"""How a service reports a change to whoever records it: the timeline, the webhooks and,
later, analytics; in the same transaction as the change, so neither exists without the
other.

The ground floor: this module imports no app. A service describes what it did as a
`Change` and calls `record()`, or `record_many()` for a batch (an import's rows); each
consumer registered at start (an app's `AppConfig.ready()`) gets the whole list in turn,
so it can write a batch in a few statements however long the list is. Who acted, from
where and in which request is the `Acting` of the moment: the request's middleware and
authentication set it (a dashboard user, an API token, the buyer at checkout, staff in the
admin), and anything outside a request is the system. Within `acting(webhooks=False)`,
changes go on the timeline but send no webhook events (an import kept quiet).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    DASHBOARD = "dashboard"
    API = "api"
    ADMIN = "admin"
    CHECKOUT = "checkout"
    SYSTEM = "system"
    IMPORT = "import"
    PORTAL = "portal"


class ActorType(StrEnum):
    USER = "user"  # a member of the organization, on the dashboard
    TOKEN = "token"  # an organization access token, through the API
    BUYER = "buyer"  # whoever completes a checkout
    STAFF = "staff"  # our staff, in the admin
    CUSTOMER = "customer"  # the customer, in the portal
    SYSTEM = "system"  # renewals, the webhook worker, commands


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    name: str = ""


SYSTEM = Actor(ActorType.SYSTEM, name="System")


@dataclass(frozen=True)
class Acting:
    """Who is acting, from where, in which request.

    Within a request the actor is found when a change is recorded, from what the
    request has authenticated by then: the API token (`request.auth`), else the signed-in
    user (staff in the admin). An actor set explicitly (`acting(actor=...)`) wins.
    """

    source: str = Source.SYSTEM
    request_id: str = ""
    explicit_actor: Actor | None = None
    # False: the changes go on the timeline but send no webhook events.
    webhooks: bool = True
    request: Any = field(default=None, compare=False, repr=False)

    @property
    def actor(self) -> Actor:
        if self.explicit_actor is not None:
            return self.explicit_actor
        return _actor_of(self.request, self.source) if self.request is not None else SYSTEM


def _actor_of(request, source: str) -> Actor:
    token = getattr(request, "auth", None)
    if token is not None and hasattr(token, "token_prefix"):
        return Actor(ActorType.TOKEN, str(token.pk), token.name)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        kind = ActorType.STAFF if source == Source.ADMIN else ActorType.USER
        return Actor(kind, str(user.pk), user.get_full_name() or user.get_username())
    return SYSTEM


_acting: ContextVar[Acting] = ContextVar("acting", default=Acting())  # noqa: B039 (frozen)


def acting_now() -> Acting:
    return _acting.get()


@contextmanager
def acting(*, actor: Actor | None = None, **changes: Any) -> Iterator[Acting]:
    """Within the block, act as `actor`, from `source`, in `request_id`, with or without
    `webhooks` (the others keep their value):
    `with acting(actor=Actor("buyer", id=str(checkout.pk)), source="checkout"): ...`.
    """
    if actor is not None:
        changes["explicit_actor"] = actor
    token = _acting.set(replace(_acting.get(), **changes))
    try:
        yield _acting.get()
    finally:
        _acting.reset(token)


@dataclass(frozen=True)
class Change:
    """One change, as its service made it.

    `type` names it as the timeline does (`customer.updated`, `order.paid`, ...);
    `changes` maps each changed field to `[old, new]` (see `diff`); `subject` is the
    object as stored now, and `event_data` the subject as its app shapes it for webhooks
    (called only if someone listens, so a change nobody listens to costs nothing).
    """

    type: str
    organization_id: Any
    customer_id: Any = None
    subject: Any = None
    changes: dict = field(default_factory=dict)
    event_data: Callable[[], dict] | None = None
    acting: Acting = field(default_factory=acting_now)


Consumer = Callable[[list[Change]], None]
_consumers: list[Consumer] = []


def register(consumer: Consumer) -> None:
    """Add a consumer of every change (once: registering it again does nothing)."""
    if consumer not in _consumers:
        _consumers.append(consumer)


def record(change: Change) -> None:
    """Hand the change to each consumer, in the caller's transaction."""
    record_many([change])


def record_many(changes: list[Change]) -> None:
    """Hand the whole list to each consumer, in the caller's transaction, in order."""
    if not changes:
        return
    for consumer in _consumers:
        consumer(changes)


def diff(old: dict, new: dict, *, nested: tuple[str, ...] = ("metadata",)) -> dict:
    """`{field: [old, new]}` for each field whose value differs (by type too: 1, 1.0 and
    True are different values), and for each of `nested` (a flat object such as
    metadata) one `"<field>.<key>": [old, new]` per changed key, None for absent."""
    changes: dict = {}
    for name in new.keys() | old.keys():
        before, after = old.get(name), new.get(name)
        if name in nested:
            before, after = before or {}, after or {}
            for key in sorted(before.keys() | after.keys()):
                if not same(before.get(key), after.get(key)) or (key in before) != (key in after):
                    changes[f"{name}.{key}"] = [before.get(key), after.get(key)]
        elif not same(before, after):
            changes[name] = [before, after]
    return dict(sorted(changes.items()))


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(same, a, b))
    return a == b
