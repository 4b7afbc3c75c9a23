"""Forms of the import pages: the upload with its options, the column mapping, the apply."""

from django import forms

from customers.models import BILLING_FIELDS
from imports import mapping as m
from imports.models import CustomerImport

TARGET_LABELS = {
    m.EMAIL: "Email",
    m.NAME: "Name",
    m.FIRST_NAME: "First name (joined into the name)",
    m.LAST_NAME: "Last name (joined into the name)",
    m.EXTERNAL_ID: "External ID",
    m.METADATA: "Metadata (a JSON object)",
    m.IGNORE: "Don't import",
}
TYPE_LABELS = {
    m.INFERRED: "Guess from the value",
    m.TEXT: "Text",
    m.INTEGER: "Integer",
    m.NUMBER: "Number",
    m.YES_NO: "Yes/No",
}


def target_label(target: str) -> str:
    if target.startswith(m.METADATA_KEY_PREFIX):
        return f"Metadata key “{target.removeprefix(m.METADATA_KEY_PREFIX)}”"
    if target in BILLING_FIELDS:
        return target.replace("_", " ").capitalize().replace("Tax id", "Tax ID")
    return TARGET_LABELS.get(target, target)


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, with a header line. Our own export imports as it is.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    match = forms.ChoiceField(
        label="Match rows to customers by",
        choices=CustomerImport.Match.choices,
        initial=CustomerImport.Match.EXTERNAL_ID,
        widget=forms.RadioSelect,
    )
    mode = forms.ChoiceField(
        label="Rows may",
        choices=CustomerImport.Mode.choices,
        initial=CustomerImport.Mode.UPSERT,
        widget=forms.RadioSelect,
    )
    metadata_mode = forms.ChoiceField(
        label="Metadata",
        choices=CustomerImport.MetadataMode.choices,
        initial=CustomerImport.MetadataMode.MERGE,
        widget=forms.RadioSelect,
    )
    blank = forms.ChoiceField(
        label="A blank cell",
        choices=CustomerImport.Blank.choices,
        initial=CustomerImport.Blank.KEEP,
        widget=forms.RadioSelect,
    )
    no_webhooks = forms.BooleanField(label="Don't send webhooks for this import", required=False)

    @classmethod
    def defaults(cls) -> dict[str, str]:
        return {
            name: field.initial
            for name, field in cls.base_fields.items()
            if isinstance(field, forms.ChoiceField)
        }

    def options(self) -> dict:
        data = self.cleaned_data
        return {
            "match": data["match"],
            "mode": data["mode"],
            "metadata_mode": data["metadata_mode"],
            "blank": data["blank"],
            "send_webhooks": not data["no_webhooks"],
        }


class ImportMappingForm(forms.Form):
    """One target select and one metadata type select per column of the file."""

    def __init__(self, mappings: list[m.ColumnMapping], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mappings = mappings
        for column in mappings:
            key = _metadata_key(column.header)
            choices = [(t, target_label(t)) for t in m.TARGETS]
            suggested = m.METADATA_KEY_PREFIX + key if key else None
            for target in (suggested, column.target):
                is_key = target and target.startswith(m.METADATA_KEY_PREFIX)
                if is_key and target not in dict(choices):
                    choices.insert(-1, (target, target_label(target)))
            self.fields[f"target_{column.index}"] = forms.ChoiceField(
                label=column.header or f"Column {column.index + 1}",
                choices=choices,
                initial=column.target,
            )
            self.fields[f"type_{column.index}"] = forms.ChoiceField(
                label=f"Type of {column.header or f'column {column.index + 1}'} as metadata",
                choices=list(TYPE_LABELS.items()),
                initial=column.metadata_type,
            )

    def rows(self):
        for column in self.mappings:
            yield {
                "column": column,
                "target": self[f"target_{column.index}"],
                "type": self[f"type_{column.index}"],
                "is_metadata": column.metadata_key is not None,
            }

    def mapping(self) -> list[m.ColumnMapping]:
        return [
            m.ColumnMapping(
                index=column.index,
                header=column.header,
                target=self.cleaned_data[f"target_{column.index}"],
                metadata_type=self.cleaned_data[f"type_{column.index}"],
            )
            for column in self.mappings
        ]


def _metadata_key(header: str) -> str:
    """The key a column would fill as metadata: `metadata.plan` → plan, `Plan` → plan."""
    name = header.strip()
    if name.casefold().startswith(m.METADATA_KEY_PREFIX):
        return name[len(m.METADATA_KEY_PREFIX) :]
    return m.normalise(name)[:40]


class ImportApplyForm(forms.Form):
    skip_errors = forms.BooleanField(label="Skip the rows with errors", required=False)
    no_webhooks = forms.BooleanField(label="Don't send webhooks for this import", required=False)
