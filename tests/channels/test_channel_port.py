"""The channels behind the port: Winpay's adapter and settings, the sandbox's inquiry and
refunds, the durable X-EXTERNAL-ID store, and the registry the API builds them with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from api.channel_registry import (
    ChannelNotConfiguredError,
    channel_for,
    channel_for_payment,
    channels,
    close_channels,
)
from paylink_es.aggregate import stable_id
from paylink_es.application import PaylinkApp
from paylink_es.bootstrap import open_app
from paylink_es.channels.port import ChannelPort
from paylink_es.channels.sandbox import SandboxChannel
from paylink_es.channels.winpay import (
    EventSourcedSeenExternalIds,
    WinpayChannel,
    customer_no_for,
    winpay_from_settings,
)
from paylink_es.clock import FakeClock
from paylink_es.errors import InvalidFieldError
from paylink_es.money import Money
from paylink_es.settings import Settings
from tests.channels.snap_counterpart import WinpayCounterpart, private_pem, public_pem

IDR = "IDR"


@pytest.fixture
def configured(
    tmp_path: Path,
    counterpart: WinpayCounterpart,
    merchant_key: rsa.RSAPrivateKey,
    winpay_key: rsa.RSAPrivateKey,
) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        winpay_base_url=counterpart.base_url,
        winpay_partner_id="PAYLINK",
        winpay_channel_id="PAYLINKWEB",
        winpay_partner_service_id="9042",
        winpay_private_key=SecretStr(private_pem(merchant_key)),
        winpay_public_key=public_pem(winpay_key),
    )


@pytest.fixture
def winpay(configured: Settings) -> Iterator[WinpayChannel]:
    channel = winpay_from_settings(configured)
    assert channel is not None
    yield channel
    channel.close()


# -- Winpay settings ---------------------------------------------------------------------


def test_winpay_is_off_until_its_base_url_is_set(tmp_path: Path) -> None:
    assert winpay_from_settings(Settings(data_dir=tmp_path)) is None


@pytest.mark.parametrize(
    ("unset", "field"),
    [
        ("winpay_partner_id", "winpay_partner_id"),
        ("winpay_channel_id", "winpay_channel_id"),
        ("winpay_partner_service_id", "winpay_partner_service_id"),
        ("winpay_private_key", "winpay_private_key"),
        ("winpay_public_key", "winpay_public_key"),
    ],
)
def test_a_missing_winpay_setting_is_named(configured: Settings, unset: str, field: str) -> None:
    blank: object = "" if unset.endswith("_id") else None
    with pytest.raises(InvalidFieldError) as caught:
        winpay_from_settings(configured.model_copy(update={unset: blank}))
    assert caught.value.field == field


def test_a_bad_key_is_named_and_never_printed(
    configured: Settings, merchant_key: rsa.RSAPrivateKey
) -> None:
    pem = private_pem(merchant_key)
    broken = pem.replace(pem.splitlines()[3], "A" * 64)
    with pytest.raises(InvalidFieldError) as caught:
        winpay_from_settings(
            configured.model_copy(update={"winpay_private_key": SecretStr(broken)})
        )
    assert caught.value.field == "winpay_private_key"
    assert pem.splitlines()[2] not in str(caught.value)
    with pytest.raises(InvalidFieldError) as public:
        winpay_from_settings(configured.model_copy(update={"winpay_public_key": "nope"}))
    assert public.value.field == "winpay_public_key"
    bad_id = configured.model_copy(update={"winpay_partner_service_id": "90-42"})
    with pytest.raises(InvalidFieldError) as service:
        winpay_from_settings(bad_id)
    assert service.value.field == "winpay_partner_service_id"


def test_keys_can_come_from_files_and_the_private_one_never_shows(
    configured: Settings, tmp_path: Path, merchant_key: rsa.RSAPrivateKey
) -> None:
    pem = private_pem(merchant_key)
    key_file = tmp_path / "ours.pem"
    key_file.write_text(pem)
    public_file = tmp_path / "winpay.pem"
    public_file.write_text(str(configured.winpay_public_key))
    from_files = configured.model_copy(
        update={
            "winpay_private_key": None,
            "winpay_private_key_path": key_file,
            "winpay_public_key": None,
            "winpay_public_key_path": public_file,
        }
    )
    channel = winpay_from_settings(from_files)
    assert channel is not None
    channel.close()
    secret_line = pem.splitlines()[2]
    assert secret_line not in repr(configured)
    assert secret_line not in repr(channel)
    assert secret_line not in repr(channel.client)
    missing = from_files.model_copy(update={"winpay_private_key_path": tmp_path / "absent.pem"})
    with pytest.raises(InvalidFieldError) as caught:
        winpay_from_settings(missing)
    assert caught.value.field == "winpay_private_key_path"


# -- Winpay adapter against the counterpart ------------------------------------------------


def test_instructions_asked_twice_create_one_va(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id = uuid4()
    first = winpay.instructions(payment_id, "va_mandiri", Money(250000, IDR), "Toko Budi Jaya")
    again = winpay.instructions(payment_id, "va_mandiri", Money(250000, IDR), "Toko Budi Jaya")
    assert first == again
    creates = [p for p, _, _ in counterpart.requests if p == "/v1.0/transfer-va/create-va"]
    assert len(creates) == 1
    va = counterpart.vas[str(payment_id)]
    assert va["customerNo"] == customer_no_for(payment_id)
    assert va["virtualAccountName"] == "Toko Budi Jaya"
    assert first["va_number"] == "9042" + customer_no_for(payment_id)
    assert first["bank"] == "Mandiri"


def test_retail_gets_a_payment_code_and_short_names_are_padded(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id = uuid4()
    made = winpay.instructions(payment_id, "retail_alfamart", Money(50000, IDR), "Abc")
    assert made["family"] == "retail"
    assert made["payment_code"] == "9042" + customer_no_for(payment_id)
    assert counterpart.vas[str(payment_id)]["additionalInfo"]["channel"] == "ALFAMART"
    assert counterpart.vas[str(payment_id)]["virtualAccountName"] == "Abc Paylink"


def test_a_method_winpay_does_not_offer_is_refused_before_any_call(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        winpay.instructions(uuid4(), "ewallet_ovo", Money(10000, IDR), "Toko Budi")
    assert caught.value.field == "method"
    assert counterpart.requests == []


def test_the_va_expires_at_the_link_expiry_when_winpay_accepts_it(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    from datetime import UTC, datetime

    soon = datetime.now(tz=UTC) + timedelta(hours=2)
    payment_id = uuid4()
    winpay.instructions(payment_id, "va_bni", Money(10000, IDR), "Toko Budi", expires_at=soon)
    stored = datetime.fromisoformat(counterpart.vas[str(payment_id)]["expiredDate"])
    assert stored == soon.replace(microsecond=0)
    past = uuid4()  # an expiry Winpay would refuse: the channel's own time to live
    winpay.instructions(
        past, "va_bni", Money(10000, IDR), "Toko Budi", expires_at=soon - timedelta(days=1)
    )
    later = datetime.fromisoformat(counterpart.vas[str(past)]["expiredDate"])
    assert timedelta(hours=23) < later - datetime.now(tz=UTC) <= timedelta(days=1)


def test_inquiry_says_unpaid_then_paid_with_winpays_amount(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    payment_id = uuid4()
    winpay.instructions(payment_id, "va_bri", Money(150000, IDR), "Toko Budi")
    ref = f"{payment_id}/45539"
    before = winpay.inquire(ref, payment_id, Money(1, IDR))
    assert (before.paid, before.amount) == (False, None)
    counterpart.pay(str(payment_id))
    after = winpay.inquire(ref, payment_id, Money(1, IDR))
    assert (after.paid, after.amount) == (True, Money(150000, IDR))
    assert "00" in after.detail


def test_winpay_refunds_are_manual_and_say_so(
    winpay: WinpayChannel, counterpart: WinpayCounterpart
) -> None:
    result = winpay.refund("trx/1", uuid4(), uuid4(), Money(10000, IDR))
    assert result.accepted is False
    assert "manual" in result.detail
    assert counterpart.requests == []


# -- the sandbox's inquiry and refunds ------------------------------------------------------


def test_the_sandbox_inquiry_knows_only_its_own_references() -> None:
    sandbox = SandboxChannel(secret="s3cret", base_url="http://127.0.0.1:9")
    payment_id, amount = uuid4(), Money(150000, IDR)
    ref = sandbox.reference(payment_id, amount)
    assert ref.startswith("SBX-")
    assert sandbox.inquire(ref, payment_id, amount).paid
    assert sandbox.inquire(ref, payment_id, amount).amount == amount
    follow_up = stable_id(f"/payments/sandbox/{ref}")  # money paid again to it
    assert sandbox.inquire(ref, follow_up, amount).paid
    stranger = SandboxChannel(secret="other", base_url="")
    for why, (reference, pid, money) in {
        "another amount": (ref, payment_id, Money(15000, IDR)),
        "another payment": (ref, uuid4(), amount),
        "not issued": ("SBX-FORGED", payment_id, amount),
        "another secret": (stranger.reference(payment_id, amount), payment_id, amount),
        "mac altered": (ref[:-1] + ("0" if ref[-1] != "0" else "1"), payment_id, amount),
        "garbage": ("SBX-zz-zz-zz", payment_id, amount),
    }.items():
        status = sandbox.inquire(reference, pid, money)
        assert (status.paid, status.amount) == (False, None), why


def test_the_sandbox_accepts_refunds_with_a_reference() -> None:
    sandbox = SandboxChannel(secret="s3cret", base_url="")
    refund_id = uuid4()
    result = sandbox.refund("SBX-1", uuid4(), refund_id, Money(1000, IDR))
    assert result.accepted
    assert result.channel_ref.startswith("SBXR-")
    again = sandbox.refund("SBX-1", uuid4(), uuid4(), Money(1000, IDR))
    assert again.channel_ref != result.channel_ref


# -- the durable X-EXTERNAL-ID store ------------------------------------------------------


def test_seen_external_ids_are_shared_through_the_store(
    backend_settings: Settings, clock: FakeClock
) -> None:
    first = open_app(backend_settings, clock=clock)
    second = open_app(backend_settings, clock=clock)  # another worker process, same store
    try:
        day = date(2026, 1, 5)
        seen, elsewhere = (
            EventSourcedSeenExternalIds(first.save),
            EventSourcedSeenExternalIds(second.save),
        )
        assert seen.add(day, "100000000001") is True
        assert seen.add(day, "100000000001") is False
        assert elsewhere.add(day, "100000000001") is False
        assert elsewhere.add(day + timedelta(days=1), "100000000001") is True
        assert seen.add(day, "100000000002") is True
    finally:
        second.close()
        first.close()


# -- the registry -----------------------------------------------------------------------------


def _state(settings: Settings) -> SimpleNamespace:
    return SimpleNamespace(settings=settings)


def test_the_registry_has_the_sandbox_always_and_winpay_when_configured(
    tmp_path: Path, configured: Settings
) -> None:
    plain = _state(Settings(data_dir=tmp_path))
    assert list(channels(plain)) == ["sandbox"]
    with pytest.raises(ChannelNotConfiguredError) as caught:
        channel_for(plain, "winpay")
    assert caught.value.field == "channel"
    assert channel_for_payment(plain, "test", "va_bca") is channel_for(plain, "sandbox")
    assert channel_for_payment(plain, "live", "va_bca") is None

    state = _state(configured)
    built = channels(state)
    assert sorted(built) == ["sandbox", "winpay"]
    assert channels(state) is built  # cached on the state
    port: ChannelPort = channel_for(state, "winpay")
    assert isinstance(port, WinpayChannel)
    assert channel_for_payment(state, "live", "va_bri") is port
    assert channel_for_payment(state, "live", "qris") is port
    assert channel_for_payment(state, "live", "ewallet_ovo") is None
    assert isinstance(channel_for_payment(state, "test", "va_bri"), SandboxChannel)
    close_channels(state)
    assert not hasattr(state, "channels")
    assert channels(state) is not built


def test_a_ledger_confirms_through_any_port(memory_app: PaylinkApp) -> None:
    """The sandbox satisfies the port the ledger's confirm_payment takes."""
    sandbox: ChannelPort = SandboxChannel(secret="s", base_url="")
    merchant = memory_app.register_merchant("Toko")
    link = memory_app.create_link(
        merchant, amount=5000, description="x", methods=["va_bca"], usage_limit=None
    )
    payment_id = memory_app.start_payment(link, "va_bca")
    assert isinstance(sandbox, SandboxChannel)
    ref = sandbox.reference(payment_id, Money(5000, IDR))
    memory_app.record_payment(payment_id, ref, Money(5000, IDR), memory_app.now())
    assert memory_app.confirm_payment(payment_id, sandbox).status == "verified"
    forged = memory_app.start_payment(link, "va_bca")
    memory_app.record_payment(forged, "SBX-FORGED", Money(5000, IDR), memory_app.now())
    rejected = memory_app.confirm_payment(forged, sandbox)
    assert rejected.status == "rejected"
    assert UUID(str(rejected.id)) == forged
