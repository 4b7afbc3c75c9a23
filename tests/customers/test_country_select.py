"""The country menu renders in one pass (customers.forms.CountrySelect) exactly what
Django's Select renders through its option templates."""

import pytest
from django import forms
from django.test.html import parse_html

from customers.forms import CountryField, CountrySelect


class BillingForm(forms.Form):
    country = CountryField()


def django_select(field: CountryField, name: str, value, attrs: dict) -> str:
    return forms.Select(choices=field.choices).render(name, value, attrs)


@pytest.mark.parametrize("value", ["", None, "FR", "de", "XX", '"><script>'])
def test_the_menu_is_djangos_select(value):
    field = CountryField()
    attrs = {"id": "id_country", "aria-invalid": "true", "required": False}
    ours = CountrySelect(choices=field.choices).render("country", value, attrs)
    assert parse_html(ours) == parse_html(django_select(field, "country", value, attrs))


def test_a_bound_form_keeps_the_choice_and_the_fields_attributes():
    form = BillingForm(data={"country": "ZZ"})
    assert not form.is_valid()
    html = str(form["country"])
    assert 'name="country"' in html and 'id="id_country"' in html
    assert 'aria-invalid="true"' in html
    assert '<option value="FR">France</option>' in html
    assert "selected" not in html  # an unknown code selects nothing
    assert '<option value="FR" selected>France</option>' in str(
        BillingForm(initial={"country": "FR"})["country"]
    )


def test_labels_are_escaped():
    widget = CountrySelect(choices=[("a&b", "<b>Fish & chips</b>")])
    html = widget.render("x", "a&b", {})
    assert '<option value="a&amp;b" selected>&lt;b&gt;Fish &amp; chips&lt;/b&gt;</option>' in html
