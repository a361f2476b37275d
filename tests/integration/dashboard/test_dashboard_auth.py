"""Signing in: argon2 passwords, session cookies, lockout, sign-out, the sign-in form's CSRF."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.dashboard.session import SESSION_COOKIE
from paylink_es.application.users import UserService
from paylink_es.domain.clock import FakeClock
from paylink_es.domain.users import LOCKOUT, MAX_FAILURES, User, user_id_for
from paylink_es.settings import Settings
from tests.support.desk import OWNER, PASSWORD, VIEWER, Desk, build_desk, post, sign_in
from tests.support.shop import csrf_of, shop


def test_a_page_without_a_session_sends_the_browser_to_sign_in(sqlite_desk: Desk) -> None:
    response = sqlite_desk.client().get("/dashboard/links?status=active", follow_redirects=False)
    assert response.status_code == 303
    assert (
        response.headers["location"]
        == "/dashboard/login?next=%2Fdashboard%2Flinks%3Fstatus%3Dactive"
    )


def test_the_right_password_signs_in_with_a_hardened_cookie(sqlite_desk: Desk) -> None:
    client = sqlite_desk.client()
    response = sign_in(client, OWNER, PASSWORD, "/dashboard/links")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/links"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # development: plain http on 127.0.0.1 works
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert OWNER in page.text
    assert sqlite_desk.shop.count("User.SignedIn") == 1


def test_outside_development_the_cookie_is_secure(tmp_path: Path, clock: FakeClock) -> None:
    settings = Settings(
        data_dir=tmp_path / "prod", environment="production", secret_key=SecretStr("s" * 32)
    )
    with shop(settings, clock) as built:
        build_desk(built)
        client = TestClient(built.app, base_url="https://testserver")
        response = sign_in(client, OWNER, PASSWORD)
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]
        assert client.get("/dashboard").status_code == 200


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(sqlite_desk: Desk) -> None:
    wrong = sign_in(sqlite_desk.client(), OWNER, "not the password")
    unknown = sign_in(sqlite_desk.client(), "nobody@tokobudi.example", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "E-mail atau kata sandi salah." in response.text
        assert f"{SESSION_COOKIE}=" not in response.headers.get("set-cookie", "")
    assert sqlite_desk.shop.count("User.SignInFailed") == 1  # only the known account's


def test_repeated_failures_lock_the_account_even_for_the_right_password(sqlite_desk: Desk) -> None:
    client = sqlite_desk.client()
    for _ in range(MAX_FAILURES - 1):
        assert sign_in(client, OWNER, "wrong password!").status_code == 401
    locked = sign_in(client, OWNER, "wrong password!")
    assert locked.status_code == 429
    assert "Akun dikunci sampai" in locked.text
    assert sign_in(client, OWNER, PASSWORD).status_code == 429
    assert sqlite_desk.shop.count("User.LockedOut") == 1
    # Another account is not affected.
    assert sign_in(sqlite_desk.client(), VIEWER, PASSWORD).status_code == 303

    sqlite_desk.shop.clock.advance(LOCKOUT + timedelta(seconds=1))
    assert sign_in(client, OWNER, PASSWORD).status_code == 303


def test_after_a_lockout_the_count_starts_again(sqlite_desk: Desk) -> None:
    client = sqlite_desk.client()
    for _ in range(MAX_FAILURES):
        sign_in(client, OWNER, "wrong password!")
    sqlite_desk.shop.clock.advance(LOCKOUT)
    assert sign_in(client, OWNER, "wrong password!").status_code == 401  # not locked again
    assert sign_in(client, OWNER, PASSWORD).status_code == 303


def test_sign_out_ends_the_session_even_for_a_copied_cookie(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in()
    stolen = client.cookies[SESSION_COOKIE]
    response = post(client, "/dashboard/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login"
    replay = sqlite_desk.client()
    replay.cookies.set(SESSION_COOKIE, stolen, path="/dashboard")
    assert replay.get("/dashboard", follow_redirects=False).status_code == 303
    assert sqlite_desk.shop.count("User.SignedOut") == 1


def test_a_tampered_or_expired_cookie_is_no_session(sqlite_desk: Desk) -> None:
    client = sqlite_desk.signed_in()
    value = client.cookies[SESSION_COOKIE]
    payload, _, signature = value.partition(".")
    forged = sqlite_desk.client()
    forged.cookies.set(SESSION_COOKIE, f"{payload}.{'0' * len(signature)}", path="/dashboard")
    assert forged.get("/dashboard", follow_redirects=False).status_code == 303
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    sqlite_desk.shop.clock.advance(timedelta(hours=12, seconds=1))
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_the_sign_in_form_needs_its_token(sqlite_desk: Desk) -> None:
    client = sqlite_desk.client()
    page = client.get("/dashboard/login")
    form = {"email": OWNER, "password": PASSWORD}
    missing = client.post("/dashboard/login", data=form, follow_redirects=False)
    forged = client.post(
        "/dashboard/login", data={**form, "csrf": "0" * 64}, follow_redirects=False
    )
    for response in (missing, forged):
        assert response.status_code == 403
        assert "CSRF" in response.text
    assert sqlite_desk.shop.count("User.SignedIn") == 0
    ok = client.post(
        "/dashboard/login", data={**form, "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert ok.status_code == 303


def test_after_sign_in_the_browser_only_goes_to_dashboard_pages(sqlite_desk: Desk) -> None:
    for target in ("https://evil.example/", "//evil.example/dashboard", "/v1/links"):
        response = sign_in(sqlite_desk.client(), OWNER, PASSWORD, target)
        assert response.headers["location"] == "/dashboard", target


def test_only_an_argon2id_hash_of_the_password_is_stored(sqlite_desk: Desk) -> None:
    states = b"".join(state for _, state in sqlite_desk.shop.states())
    assert PASSWORD.encode() not in states
    user: object = sqlite_desk.shop.paylink.app.repository.get(user_id_for(OWNER))
    assert isinstance(user, User)
    assert user.password_hash.startswith("$argon2id$")
    # The production service hashes with argon2-cffi's recommended parameters.
    real = UserService(sqlite_desk.shop.paylink.app, sqlite_desk.shop.paylink.merchants)
    assert real.hasher.time_cost == PasswordHasher().time_cost
    assert real.hasher.memory_cost >= 64 * 1024
