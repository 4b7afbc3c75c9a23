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

    def _refuse_external_id_change(self, new_value, deleted_at) -> None:
        """Refuse an UPDATE that would change or clear any row's set external ID.

        The new value may be an expression (bulk_update sends a CASE per row), so the
        comparison runs in the database. Rows soft-deleted by this same update are exempt:
        deleting a customer frees its external ID.
        """
        from customers.models import EXTERNAL_ID_LOCKED_MESSAGE

        if not hasattr(new_value, "resolve_expression"):
            new_value = Value(new_value, output_field=models.CharField())
        locked = self.filter(external_id__isnull=False)
        if deleted_at is not None:
            locked = locked.filter(deleted_at__isnull=False)
        changed = locked.alias(new_external_id=new_value).filter(
            Q(new_external_id__isnull=True) | ~Q(external_id=F("new_external_id"))
        )
        if changed.exists():
            raise ValidationError({"external_id": EXTERNAL_ID_LOCKED_MESSAGE}, code="locked")
