"""Abstract bases shared by every app's models."""

from django.db import models
from django.utils import timezone

from core.ids import uuid7


class BaseModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # A default rather than auto_now_add, so imports and demo data can keep real dates.
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
