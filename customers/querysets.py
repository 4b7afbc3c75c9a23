"""Reads of customers. Every tenant read starts at `Customer.objects.for_org(org)`."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q, Value


class CustomerQuerySet(models.QuerySet):
    def for_org(self, organization) -> "CustomerQuerySet":
        """Live customers of one organization: the start of every tenant read."""
        return self.filter(organization=organization, deleted_at__isnull=True)

    def live(self) -> "CustomerQuerySet":
        return self.filter(deleted_at__isnull=True)

    def update(self, **kwargs) -> int:
        if "external_id" in kwargs:
            self._refuse_external_id_change(kwargs["external_id"], kwargs.get("deleted_at"))
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        objs = list(objs)
        if "external_id" in fields:
            # Checked here, before bulk_update opens its transaction: an error raised
            # inside it would leave the caller's transaction unusable.
            stored = dict(
                self.filter(pk__in=[obj.pk for obj in objs], external_id__isnull=False).values_list(
                    "pk", "external_id"
                )
            )
            if any(obj.pk in stored and obj.external_id != stored[obj.pk] for obj in objs):
                raise _external_id_locked()
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def _refuse_external_id_change(self, new_value, deleted_at) -> None:
        """Refuse an UPDATE that would change or clear any row's set external ID.

        The new value may be an expression (bulk_update sends a CASE per row), so the
        comparison runs in the database. Rows soft-deleted by this same update are exempt:
        deleting a customer frees its external ID.
        """
        if not hasattr(new_value, "resolve_expression"):
            new_value = Value(new_value, output_field=models.CharField())
        locked = self.filter(external_id__isnull=False)
        if deleted_at is not None:
            locked = locked.filter(deleted_at__isnull=False)
        changed = locked.alias(new_external_id=new_value).filter(
            Q(new_external_id__isnull=True) | ~Q(external_id=F("new_external_id"))
        )
        if changed.exists():
            raise _external_id_locked()


def _external_id_locked() -> ValidationError:
    from customers.models import EXTERNAL_ID_LOCKED_MESSAGE

    return ValidationError({"external_id": EXTERNAL_ID_LOCKED_MESSAGE}, code="locked")
