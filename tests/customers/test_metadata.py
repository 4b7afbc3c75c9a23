import pytest
from django.core.exceptions import ValidationError

from core.metadata import validate_metadata
from customers import services
from tests.factories import CustomerFactory


def messages(metadata) -> list[str]:
    with pytest.raises(ValidationError) as error:
        validate_metadata(metadata)
    return error.value.messages


def test_it_accepts_strings_integers_floats_and_booleans():
    validate_metadata({"plan": "pro", "seats": 3, "score": 9.5, "beta": True, "k" * 40: "v" * 500})


def test_it_rejects_51_keys():
    assert messages({f"k{i}": i for i in range(51)}) == [
        "Metadata can have at most 50 keys; it has 51."
    ]


def test_it_rejects_a_41_character_key():
    key = "k" * 41
    assert messages({key: "v"}) == [
        f"Metadata key {key!r} is 41 characters long; keys can be at most 40."
    ]


def test_it_rejects_an_empty_key():
    assert messages({"": "v"}) == ["Metadata keys must not be empty."]


def test_it_rejects_a_501_character_value_naming_the_key():
    assert messages({"bio": "x" * 501}) == [
        "Metadata value for 'bio' is 501 characters long; strings can be at most 500."
    ]


def test_it_rejects_an_empty_string_value_naming_the_key():
    assert messages({"plan": ""}) == ["Metadata value for 'plan' must not be an empty string."]


@pytest.mark.parametrize(
    ("value", "kind"), [({"a": 1}, "a nested object"), ([1, 2], "a list"), (None, "null")]
)
def test_it_rejects_nested_objects_lists_and_null_naming_the_key(value, kind):
    assert messages({"plan": value}) == [
        f"Metadata value for 'plan' is {kind}; values must be a string, an integer, "
        "a float or a boolean."
    ]


def test_it_rejects_a_non_finite_float():
    assert messages({"score": float("nan")}) == [
        "Metadata value for 'score' must be a finite number."
    ]


def test_it_rejects_something_that_is_not_an_object():
    assert messages(["a"]) == ["Metadata must be an object of key-value pairs."]


def test_it_lists_every_problem_at_once():
    assert len(messages({"": "v", "a": "", "b": None})) == 3


@pytest.mark.django_db
def test_the_model_applies_the_same_rules(organization):
    with pytest.raises(ValidationError) as error:
        services.customer_create(
            organization=organization, email="a@example.com", metadata={"x": []}
        )
    assert error.value.message_dict == {
        "metadata": [
            "Metadata value for 'x' is a list; values must be a string, an integer, "
            "a float or a boolean."
        ]
    }


@pytest.mark.django_db
def test_setting_one_key_checks_the_same_rules_and_keeps_the_rest(organization):
    customer = CustomerFactory(organization=organization, metadata={"plan": "pro"})
    with pytest.raises(ValidationError, match="41 characters"):
        services.customer_set_metadata_key(customer=customer, key="k" * 41, value="v")
    customer.refresh_from_db()
    assert customer.metadata == {"plan": "pro"}


@pytest.mark.django_db
def test_adding_a_51st_key_is_refused(organization):
    customer = CustomerFactory(organization=organization, metadata={f"k{i}": i for i in range(50)})
    with pytest.raises(ValidationError, match="at most 50 keys"):
        services.customer_set_metadata_key(customer=customer, key="one_more", value=1)


# JSON can spell a lone UTF-16 surrogate, which is no character: PostgreSQL cannot store
# it. Entry points that parse JSON themselves (the admin's metadata box, an import) meet
# the same rule as the API's parser.
def test_it_rejects_a_lone_surrogate_in_a_value_naming_the_key():
    assert messages({"plan": "pro\ud800"}) == [
        "Metadata value for 'plan' is not valid text: it holds a lone UTF-16 surrogate (\\ud800)."
    ]


def test_it_rejects_a_lone_surrogate_in_a_key():
    assert messages({"a\udfff": "v"}) == [
        "Metadata key 'a\\udfff' is not valid text: it holds a lone UTF-16 surrogate."
    ]


@pytest.mark.django_db
def test_the_model_refuses_a_lone_surrogate_before_the_database_does(organization):
    with pytest.raises(ValidationError) as error:
        services.customer_create(
            organization=organization, email="a@example.com", metadata={"plan": "\ud800"}
        )
    assert list(error.value.message_dict) == ["metadata"]


@pytest.mark.django_db
def test_setting_one_key_refuses_a_lone_surrogate(organization):
    customer = CustomerFactory(organization=organization)
    with pytest.raises(ValidationError, match="surrogate"):
        services.customer_set_metadata_key(customer=customer, key="plan", value="\ud800")
