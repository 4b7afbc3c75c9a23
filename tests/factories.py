import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from customers.models import Customer
from orders.models import Order, Product, Subscription, add_interval
from organizations.models import Membership, Organization


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Membership.Role.MEMBER


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    name = factory.Sequence(lambda n: f"Customer {n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    price_amount = 2900
    price_currency = "usd"
    recurring_interval = "month"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    customer = factory.SubFactory(CustomerFactory)
    organization = factory.SelfAttribute("customer.organization")
    product = factory.SubFactory(
        ProductFactory, organization=factory.SelfAttribute("..organization")
    )
    status = Subscription.Status.ACTIVE
    amount = factory.SelfAttribute("product.price_amount")
    currency = factory.SelfAttribute("product.price_currency")
    recurring_interval = "month"
    started_at = factory.LazyFunction(timezone.now)
    current_period_start = factory.SelfAttribute("started_at")
    current_period_end = factory.LazyAttribute(
        lambda s: add_interval(s.current_period_start, s.recurring_interval)
    )


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    organization = factory.SelfAttribute("customer.organization")
    product = factory.SubFactory(
        ProductFactory,
        organization=factory.SelfAttribute("..organization"),
        recurring_interval=None,
    )
    subtotal_amount = factory.SelfAttribute("product.price_amount")
    total_amount = factory.LazyAttribute(
        lambda o: o.subtotal_amount - o.discount_amount + o.tax_amount
    )
    discount_amount = 0
    tax_amount = 0
    currency = factory.SelfAttribute("product.price_currency")
