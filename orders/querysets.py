"""Reads of products, orders and subscriptions, always scoped to one organization."""

from django.db import models


class ProductQuerySet(models.QuerySet):
    def for_org(self, organization) -> "ProductQuerySet":
        return self.filter(organization=organization)


class OrderQuerySet(models.QuerySet):
    def for_org(self, organization) -> "OrderQuerySet":
        return self.filter(organization=organization)


class SubscriptionQuerySet(models.QuerySet):
    def for_org(self, organization) -> "SubscriptionQuerySet":
        return self.filter(organization=organization)

    def active(self) -> "SubscriptionQuerySet":
        return self.filter(status__in=self.model.ACTIVE_STATUSES)

    def ongoing(self) -> "SubscriptionQuerySet":
        return self.filter(status__in=self.model.ONGOING_STATUSES)
