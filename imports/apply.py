"""Writing one batch of an import's rows, in the caller's transaction.

Each batch is planned again against the customers as they are now, read under a row lock
(imports.plan with `lock`), so what is written is checked against what is stored. A row
whose customer changed after the dry run began (`modified_at` later than the import's
`planned_at`: a dashboard or API edit, another import) is skipped with an error rather
than written over a state the merchant never saw in the preview; the edit made meanwhile
is neither lost nor overwritten, and the row can be imported again. Rows the dry run
refused are skipped (the apply runs with errors only when the merchant chose to skip
them).

The batch is written by customers.services.customers_save_many, in a few statements.
Should the database refuse it (an email or external ID taken by a write that raced the
batch), the batch's rows are written one by one through the services instead, and each
refused row is skipped with the database's reason.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers import services
from customers.models import Customer
from imports.plan import Outcome, Planner, RowError


@dataclass
class BatchResult:
    created: list[Customer] = field(default_factory=list)
    updated: list[Customer] = field(default_factory=list)
    unchanged: int = 0
    refused: int = 0  # rows with errors from the dry run, skipped
    skipped: list[RowError] = field(default_factory=list)  # rows refused now, with why

    @property
    def skipped_count(self) -> int:
        return self.refused + len({error.row for error in self.skipped})


CHANGED_SINCE = (
    "This customer changed after the preview was made; the row was skipped so that "
    "change is kept. Import the row again to apply it."
)


def apply_batch(planner: Planner, batch, *, refused: set[int], planned_at) -> BatchResult:
    result = BatchResult()
    rows = [row for row in batch if row[0] not in refused]
    result.refused = len(batch) - len(rows)
    writes: list[Outcome] = []
    for outcome in planner.plan(rows, lock=True):
        customer = outcome.customer
        if outcome.action == "error":
            result.skipped += outcome.errors
        elif outcome.action == "unchanged":
            result.unchanged += 1
        elif customer is not None and planned_at and customer.modified_at > planned_at:
            result.skipped.append(RowError(outcome.row, "", CHANGED_SINCE))
        else:
            writes.append(outcome)
    versions = {o.row: o.customer.version for o in writes if o.customer is not None}
    try:
        with transaction.atomic():
            _save_many(planner.organization, writes, result)
    except (IntegrityError, ValidationError):
        result.created, result.updated = [], []
        for outcome in writes:
            _save_one(planner.organization, outcome, versions.get(outcome.row), result)
    return result


def _save_many(organization, writes: list[Outcome], result: BatchResult) -> None:
    created, updated = [], []
    for outcome in writes:
        if outcome.customer is None:
            created.append(Customer(organization=organization, **outcome.after))
        else:  # the plan's changes are the diff of the customer's snapshots
            customer = outcome.customer
            for name, value in outcome.after.items():
                setattr(customer, name, value)
            updated.append((customer, outcome.changes))
    services.customers_save_many(created=created, updated=updated)
    result.created += created
    result.updated += [customer for customer, _ in updated]


def _save_one(organization, outcome: Outcome, version: int | None, result: BatchResult) -> None:
    """One row through the services (validation, constraints, its own savepoint)."""
    try:
        if outcome.customer is None:
            result.created.append(
                services.customer_create(organization=organization, **outcome.after)
            )
        else:
            result.updated.append(
                services.customer_update(
                    customer=outcome.customer, expected_version=version, **outcome.after
                )
            )
    except services.StaleCustomerError:
        result.skipped.append(RowError(outcome.row, "", CHANGED_SINCE))
    except Customer.DoesNotExist:
        result.skipped.append(RowError(outcome.row, "", "The matched customer was deleted."))
    except ValidationError as error:
        result.skipped += [
            RowError(outcome.row, name if name != "__all__" else "", message)
            for name, messages in error.message_dict.items()
            for message in messages
        ]
