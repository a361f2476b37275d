"""``links.find_same`` answers what ``create_or_find`` answers for a taken reference, unwritten.

Bulk links look a row's reference up with it before creating (a file sent again must not
write); it has to agree with the create it stands in for, for every pair of bodies.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from paylink_es.application.services import Paylink
from paylink_es.domain.errors import DomainError, ReferenceReusedError
from tests.support.examples import scaled

REFERENCES = itertools.count()
BODIES = st.fixed_dictionaries(
    {
        "description": st.sampled_from(["Kaos", "Topi"]),
        "amount": st.sampled_from([15_000, 150_000]),
    },
    optional={
        "methods": st.sampled_from([["qris"], ["va_bca", "qris"], ["qris", "va_bca"]]),
        "usage_limit": st.sampled_from([None, 1, 5]),
        "customer": st.sampled_from([{"email": "budi@example.com"}, {"phone": "08123456789"}]),
    },
)


def outcome(call: Any) -> tuple[str, Any]:
    try:
        details = call()
    except ReferenceReusedError as error:
        return "reused", error.link_id
    except DomainError as error:
        return "refused", (error.type, error.field)
    return "found", None if details is None else str(details.id)


@given(first=BODIES, second=BODIES)
@settings(
    max_examples=scaled(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_find_same_agrees_with_the_create_it_stands_in_for(
    memory_app: Paylink, first: dict[str, Any], second: dict[str, Any]
) -> None:
    merchant = memory_app.merchants.register("Toko Budi")
    reference = f"INV-{next(REFERENCES)}"
    created, _ = memory_app.links.create_or_find(merchant, reference_id=reference, **first)
    head = memory_app.app.recorder.max_notification_id()

    found = outcome(lambda: memory_app.links.find_same(merchant, reference_id=reference, **second))
    event(found[0])

    assert memory_app.app.recorder.max_notification_id() == head, "find_same wrote"
    created_again = outcome(
        lambda: memory_app.links.create_or_find(merchant, reference_id=reference, **second)[0]
    )
    assert found == created_again
    if found[0] == "found":
        assert found[1] == str(created.id)


def test_find_same_is_none_without_a_reference_or_for_a_free_one(memory_app: Paylink) -> None:
    merchant = memory_app.merchants.register("Toko Budi")
    body = {"description": "Kaos", "amount": 15_000}

    assert memory_app.links.find_same(merchant, **body) is None
    assert memory_app.links.find_same(merchant, reference_id="FREE-1", **body) is None
    with pytest.raises(DomainError):
        memory_app.links.find_same(merchant, reference_id="BAD-1", description="Kaos", amount=0)


def test_taken_references_names_those_of_this_merchant_and_mode_only(
    memory_app: Paylink,
) -> None:
    budi = memory_app.merchants.register("Toko Budi")
    lain = memory_app.merchants.register("Toko Lain")
    body = {"description": "Kaos", "amount": 15_000}
    memory_app.links.create(budi, reference_id="T-1", **body)
    memory_app.links.create(budi, mode="live", reference_id="T-2", **body)
    memory_app.links.create(lain, reference_id="T-3", **body)

    taken = memory_app.links.taken_references(budi, "test", ["T-1", "T-2", "T-3", "T-4"])

    assert taken == {"T-1"}
