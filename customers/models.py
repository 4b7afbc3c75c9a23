import functools

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from core.metadata import validate_metadata
from core.models import BaseModel
from customers.countries import validate_country_code
from customers.querysets import CustomerQuerySet
from organizations.models import Organization

EXTERNAL_ID_LOCKED_MESSAGE = "Customer external ID cannot be updated."
# RFC 5321 caps a path at 256 octets, angle brackets included: an address has at most 254.
EMAIL_MAX_LENGTH = 254
DELETED_EXTERNAL_ID_KEY = "__external_id"

ADDRESS_PARTS = ("line1", "line2", "postal_code", "city", "state", "country")
# What goes on an invoice: the billing name and address, the tax ID and the locale.
BILLING_FIELDS = (
    "billing_name",
    *(f"billing_address_{part}" for part in ADDRESS_PARTS),
    "tax_id",
    "locale",
)

# Unique constraints over expressions report as non-field errors; these codes move each
# message next to the field a person has to change.
_CONSTRAINT_CODE_FIELDS = {"duplicate_email": "email", "duplicate_external_id": "external_id"}


class Customer(BaseModel):
    """Someone who bought from an organization, or was created by it."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="customers"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every write through the services; a save carrying an older version is
    # refused, so two people editing at once cannot overwrite each other silently.
    version = models.PositiveIntegerField(default=1, editable=False)

    email = models.EmailField(max_length=EMAIL_MAX_LENGTH)
    email_verified = models.BooleanField(default=False)
    # NULL, not "", means "not set": the unique constraint then ignores unset rows.
    external_id = models.CharField(  # noqa: DJ001
        "external ID",
        max_length=200,
        null=True,
        blank=True,
        help_text="Your own ID for this customer. Once set it can never change.",
    )
    name = models.CharField(max_length=256, blank=True)
    billing_name = models.CharField(max_length=256, blank=True)
    billing_address_line1 = models.CharField("address line 1", max_length=256, blank=True)
    billing_address_line2 = models.CharField("address line 2", max_length=256, blank=True)
    billing_address_postal_code = models.CharField("postal code", max_length=32, blank=True)
    billing_address_city = models.CharField("city", max_length=128, blank=True)
    billing_address_state = models.CharField("state", max_length=128, blank=True)
    billing_address_country = models.CharField(
        "country",
        max_length=2,
        blank=True,
        help_text="ISO 3166-1 alpha-2 code, e.g. US.",
        validators=[RegexValidator(r"^[A-Z]{2}$", "Use a two-letter country code, e.g. US.")],
    )
    tax_id = models.CharField("tax ID", max_length=64, blank=True)
    locale = models.CharField(max_length=16, blank=True)
    metadata = models.JSONField(default=dict, blank=True, validators=[validate_metadata])
    # Set when this customer was merged into another (soft-deleted in the same step): its
    # IDs then answer for the survivor through CustomerAlias (issue 18).
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_customers",
        editable=False,
        db_index=False,  # the partial index below: only merged rows are indexed
    )
    # Set when the customer's personal data was erased (irreversible), and by whom.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        db_index=False,
    )

    objects = CustomerQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                F("organization"),
                Lower("email"),
                condition=Q(deleted_at__isnull=True),
                name="customer_unique_live_email_per_org",
                violation_error_code="duplicate_email",
                violation_error_message="A customer with this email already exists.",
            ),
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(external_id__isnull=False),
                name="customer_unique_external_id_per_org",
                violation_error_code="duplicate_external_id",
                violation_error_message="A customer with this external ID already exists.",
            ),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="customer_external_id_not_blank"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "created_at", "id"],
                condition=Q(deleted_at__isnull=True),
                name="customer_org_created_live",
            ),
            models.Index(
                fields=["organization", "name", "id"],
                condition=Q(deleted_at__isnull=True),
                name="customer_org_name_live",
            ),
            models.Index(
                fields=["organization", "email", "id"],
                condition=Q(deleted_at__isnull=True),
                name="customer_org_email_live",
            ),
            models.Index(
                fields=["merged_into"],
                condition=Q(merged_into__isnull=False),
                name="customer_merged_into",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        instance = super().from_db(db, field_names, values, **kwargs)
        # Remember what the database holds, so a change of a set external ID is caught
        # before the UPDATE is sent (the database trigger is the last line of defence).
        instance._stored = {
            name: instance.__dict__[name]
            for name in ("external_id", "deleted_at")
            if name in instance.__dict__
        }
        return instance

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def external_id_locked(self) -> bool:
        """True when the stored external ID is set, so it can no longer change."""
        return getattr(self, "_stored", {}).get("external_id") is not None

    def _changes_locked_external_id(self) -> bool:
        stored = getattr(self, "_stored", {})
        if stored.get("external_id") is None or "external_id" not in self.__dict__:
            return False
        if self.external_id == stored["external_id"]:
            return False
        being_deleted = stored.get("deleted_at", self.deleted_at) is None and self.is_deleted
        return not being_deleted

    def clean_fields(self, exclude=None) -> None:
        # Normalise first, so " ada@example.com" is valid and "" never becomes an ID.
        self.email = (self.email or "").strip()
        if self.external_id is not None:
            self.external_id = self.external_id.strip() or None
        self.billing_address_country = (self.billing_address_country or "").strip().upper()
        errors: dict = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        # An ISO country, checked here rather than as a field validator so the column's
        # definition (and its migrations) stay as they are.
        field = "billing_address_country"
        if field not in errors and field not in (exclude or ()):
            try:
                validate_country_code(self.billing_address_country)
            except ValidationError as error:
                errors[field] = error.error_list
        if errors:
            raise ValidationError(errors)

    @classmethod
    def field_errors(cls, values: dict) -> dict[str, list[str]]:
        """The errors of these field values (already normalised) by the checks
        `clean_fields` makes, without building a customer: the importer checks millions
        of rows with it. Metadata is left to core.metadata.metadata_errors, which names
        the key."""
        errors: dict[str, list[str]] = {}
        for name, value in values.items():
            if name == "metadata" or (name == "external_id" and value is None):
                continue
            messages = _field_errors(name, value)
            if messages:
                errors[name] = list(messages)
        return errors

    def clean(self) -> None:
        if self._changes_locked_external_id():
            raise ValidationError({"external_id": EXTERNAL_ID_LOCKED_MESSAGE}, code="locked")

    def validate_constraints(self, exclude=None) -> None:
        # Forms exclude deleted_at (nobody edits it), and Django then skips every
        # constraint whose condition mentions it, such as the unique live email.
        exclude = set(exclude or ()) - {"deleted_at"}
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            raise _move_constraint_errors_to_fields(error) from None

    def save(self, *args, **kwargs) -> None:
        if self._changes_locked_external_id():
            raise ValidationError({"external_id": EXTERNAL_ID_LOCKED_MESSAGE}, code="locked")
        super().save(*args, **kwargs)
        self._stored = {"external_id": self.external_id, "deleted_at": self.deleted_at}

    @property
    def billing_address(self) -> dict | None:
        """The address as Polar's API shapes it, or None when no country is known."""
        if not self.billing_address_country:
            return None
        address = {p: getattr(self, f"billing_address_{p}") or None for p in ADDRESS_PARTS}
        address["country"] = self.billing_address_country
        return address


@functools.lru_cache(maxsize=16_384)
def _field_errors(name: str, value) -> tuple[str, ...]:
    """One field's errors for one value (a pure function of the two, remembered: an
    import's rows repeat their countries, names and cities)."""
    try:
        Customer._meta.get_field(name).clean(value, None)
        if name == "billing_address_country":
            validate_country_code(value)
    except ValidationError as error:
        return tuple(error.messages)
    return ()


def constraint_error(error: Exception) -> ValidationError | None:
    """The field error that an IntegrityError from writing a customer stands for, or None.

    The database's constraints and the external-ID trigger are what enforce the rules on
    a write (no SELECT beforehand can see a concurrent transaction's row); this turns their
    refusal into the same message `validate_constraints()` gives, beside its field.
    PostgreSQL names the constraint; SQLite names an index over expressions, and the
    columns of one over fields.
    """
    text = str(error)
    if EXTERNAL_ID_LOCKED_MESSAGE in text:
        return ValidationError({"external_id": EXTERNAL_ID_LOCKED_MESSAGE}, code="locked")
    diag = getattr(getattr(error, "__cause__", None), "diag", None)
    named = getattr(diag, "constraint_name", None)
    table = Customer._meta.db_table
    for constraint in Customer._meta.constraints:
        if not isinstance(constraint, models.UniqueConstraint):
            continue
        columns = ", ".join(
            f"{table}.{Customer._meta.get_field(f).column}" for f in constraint.fields
        )
        if (
            named == constraint.name
            or f"'{constraint.name}'" in text
            or (constraint.fields and text.endswith(f"failed: {columns}"))
        ):
            field = _CONSTRAINT_CODE_FIELDS[constraint.violation_error_code]
            return ValidationError(
                {field: constraint.violation_error_message},
                code=constraint.violation_error_code,
            )
    return None


def _move_constraint_errors_to_fields(error: ValidationError) -> ValidationError:
    by_field: dict[str, list[ValidationError]] = {}
    for field, errors in error.error_dict.items():
        for item in errors:
            target = _CONSTRAINT_CODE_FIELDS.get(item.code, field)
            by_field.setdefault(target, []).append(item)
    return ValidationError(by_field)


class CustomerMetadataCount(models.Model):
    """How many live customers of an organization hold each metadata value.

    Kept by PostgreSQL triggers on customers_customer (migrations 0004, 0010), whoever writes the
    row: an API list filtered by one metadata key reads its exact `total_count` from a few
    of these rows instead of visiting the 250,000 customers that match. Each backend adds
    to its own shard (pg_backend_pid() % 16), so concurrent writers do not queue on one
    hot counter; a value's count is the sum of its shards. `value` is typed, as
    `customers.counts.metadata_token` spells it. SQLite leaves the table empty.
    """

    pk = models.CompositePrimaryKey("organization_id", "key", "value", "shard")
    organization_id = models.UUIDField()
    key = models.TextField()
    value = models.TextField()
    shard = models.SmallIntegerField()
    customers = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.key}={self.value}: {self.customers} (shard {self.shard})"


class CustomerCount(models.Model):
    """How many live customers an organization has, and how many of them have an active
    subscription: the API's `total_count` for the unfiltered list and for `active=...`.

    Kept by PostgreSQL triggers (migrations 0006, 0010), whoever writes: a subscription's change
    moves its customer's `active_subscriptions` (a column only PostgreSQL has), and a
    customer's insert, delete, soft delete, restore or crossing between none and some
    active subscriptions moves these counts. Sharded like `CustomerMetadataCount`
    (pg_backend_pid() % 16), so concurrent writers don't queue on one row; a count is the
    sum of its shards. SQLite leaves the table empty and counts rows.
    """

    pk = models.CompositePrimaryKey("organization_id", "shard")
    organization_id = models.UUIDField()
    shard = models.SmallIntegerField()
    live = models.BigIntegerField()
    active = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.live} live, {self.active} active (shard {self.shard})"


class CustomerDayCount(models.Model):
    """How many live customers of an organization were created on each day (UTC).

    Kept by PostgreSQL triggers (migrations 0008, 0010), whoever writes, and sharded like
    `CustomerCount`. They let a deep page of the list in creation order (the default,
    and what polar-sdk's iterators walk) start at the right day instead of stepping
    over every newer customer: page 500 of 100 skips the days holding its first 49,900
    rows by summing a few dozen of these, then steps only within one day.
    SQLite leaves the table empty.
    """

    pk = models.CompositePrimaryKey("organization_id", "day", "shard")
    organization_id = models.UUIDField()
    day = models.DateField()
    shard = models.SmallIntegerField()
    customers = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.day}: {self.customers} (shard {self.shard})"


class CustomerAlias(models.Model):
    """An ID of a customer merged away that keeps answering for the one it was merged into:
    its internal ID (`kind` id) and its external ID (`kind` external_id), so the merchant's
    stored IDs keep working (`GET /v1/customers/external/{old}` answers for the survivor).
    An alias's external ID stays taken: no other customer of the organization may use it.
    A later merge of the survivor moves its aliases along, so an alias never points at a
    merged-away customer."""

    class Kind(models.TextChoices):
        ID = "id", "Internal ID"
        EXTERNAL_ID = "external_id", "External ID"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="aliases")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=200)
    merged_customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "value"], name="customer_alias_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value} → {self.customer_id}"

    @classmethod
    def survivor_id(cls, organization_id, *, id=None, external_id: str | None = None):
        """The ID of the customer an old ID (`id`) or old external ID now answers for, or
        None: the one fallback every lookup by ID makes when no live customer has it
        (customers.api, customers.services._lock_live). One index probe
        (customer_alias_unique)."""
        if id is not None:
            kind, value = cls.Kind.ID, str(id)
        elif external_id is not None:
            kind, value = cls.Kind.EXTERNAL_ID, external_id
        else:
            return None
        return (
            cls.objects.filter(organization_id=organization_id, kind=kind, value=value)
            .values_list("customer_id", flat=True)
            .first()
        )


class DuplicatePair(models.Model):
    """Two live customers of one organization that look like the same person, found by the
    duplicates scan: why (`reasons`, e.g. ["email"], ["name_postal_code"]) and how likely
    (`score`, 0-1). `customer` has the smaller ID, so a pair is stored once. A dismissed pair
    ("not the same person") stays dismissed: the scan never offers it again."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    reasons = models.JSONField(default=list)
    score = models.FloatField()
    found_at = models.DateTimeField(default=timezone.now)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )  # fmt: skip

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer", "other"], name="duplicate_pair_unique"
            ),
            models.CheckConstraint(
                condition=Q(customer__lt=F("other")), name="duplicate_pair_ordered"
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "-score", "id"],
                condition=Q(dismissed_at__isnull=True),
                name="duplicate_pair_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} ~ {self.other_id} ({self.score:.2f})"


class DuplicateScan(models.Model):
    """How far the duplicates scan has looked at an organization's customers: those
    modified after (`scanned_until`, `scanned_id`) are still to look at, so each run checks
    only new and changed customers."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    scanned_until = models.DateTimeField(null=True, blank=True)
    scanned_id = models.UUIDField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"scanned until {self.scanned_until}"
