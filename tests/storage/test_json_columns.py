"""JSON columns keep exactly the values the standard library's json would have kept, on every database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.audit import AuditKind, _as_stored
from storage.db import json_text, make_engine, session_scope
from storage.models import BotState
from storage.schema import ensure_schema

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(min_value=-9, max_value=9), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(values)
def test_a_value_reads_back_as_the_standard_librarys_json_reads_it(value: Any) -> None:
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


details = st.recursive(
    scalars | st.datetimes(timezones=st.just(UTC)) | st.uuids() | st.sampled_from(list(AuditKind)),
    lambda inner: (
        st.lists(inner, max_size=4).map(tuple)
        | st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(min_value=-9, max_value=9), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), details, max_size=4))
def test_an_audit_detail_is_stored_as_the_standard_librarys_json_with_str_for_the_rest_stores_it(
    detail: dict[str, Any],
) -> None:
    # The hash is computed over this form when the event is written, and over what is read back when verified.
    assert _as_stored(detail) == json.loads(json.dumps(detail, default=str))


def test_a_datetime_is_refused_as_the_standard_library_refuses_it() -> None:
    with pytest.raises(TypeError):
        json.dumps({"at": T0})
    with pytest.raises(TypeError):
        json_text({"at": T0})


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    ensure_schema(engine)
    return engine


# One database for all the examples: each one overwrites the row the one before wrote.
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.dictionaries(st.text(max_size=8), values, max_size=4))
def test_a_json_column_keeps_the_value_on_each_database(engine: Engine, value: dict[str, Any]) -> None:
    with session_scope(engine) as session:
        row = session.get(BotState, "json") or BotState(key="json", updated_at=T0)
        row.value = value
        session.add(row)
    with Session(engine) as session:
        stored = session.get(BotState, "json")
        assert stored is not None
        assert stored.value == json.loads(json.dumps(value))
