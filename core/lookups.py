"""`AnyOf(F("field"), values)`: `field IN (values)` as a filter expression, sent to
PostgreSQL as `field = ANY(%s)` with the values as one array parameter.

An import's batch looks its customers up by thousands of external IDs and emails: as an
IN list, that is thousands of placeholders for psycopg to split and quote in Python on
every batch; as one array, psycopg adapts the list at once and the plan is the same (the
server turns either into the same `= ANY`). Other databases get the IN list.
"""

from django.db.models.lookups import In


class AnyOf(In):
    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(v, connection, prepared=False) for v in self.rhs]
        return f"{lhs} = ANY(%s)", (*lhs_params, values)
