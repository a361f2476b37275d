"""Helpers for the dashboard tests: a shop with staff accounts, signed-in clients, forms.

Imported as ``tests.support.desk``. Built on the hosted-page tests' shop
(``tests.support.shop``), which pays links through the sandbox channel's signed callbacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from uuid import UUID

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from api.dashboard.session import SESSION_COOKIE
from paylink_es.application.users import UserService
from tests.support.shop import Http, Reply, Shop, csrf_of

PASSWORD = "correct horse battery"
OWNER = "owner@tokobudi.example"
VIEWER = "viewer@tokobudi.example"
OTHER_OWNER = "owner@tokolain.example"
OTHER_MERCHANT = "Toko Lain Sejahtera"
# Cheap argon2 for speed; the production parameters are pinned by a test of their own.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
ERROR_FOR = re.compile(r'data-error-for="([^"]+)">([^<]*)<')


@dataclass
class Desk:
    """A shop (merchant A with keys) plus merchant B, and dashboard users of both."""

    shop: Shop
    users: UserService
    other_merchant: UUID

    @property
    def merchant_id(self) -> UUID:
        """Merchant A: the shop's."""
        return self.shop.merchant_id

    def client(self) -> Http:
        """A new browser: no cookies."""
        return self.shop.visitor()

    def signed_in(self, email: str = OWNER, password: str = PASSWORD) -> Http:
        """A new browser signed in as ``email``."""
        client = self.client()
        response = sign_in(client, email, password)
        assert response.status_code == 303, response.text
        assert SESSION_COOKIE in client.cookies
        return client

    def catch_up(self) -> None:
        """Wait until every read model has every stored event."""
        self.shop.balances()

    def link(self, merchant: UUID | None = None, mode: str = "test", **fields: Any) -> UUID:
        """Create a link straight through the paylink."""
        terms = {"amount": 150000, "description": "Kaos polos hitam", **fields}
        return self.shop.paylink.links.create(merchant or self.merchant_id, mode=mode, **terms)

    def pay(self, link_id: UUID, method: str = "qris") -> UUID:
        """Pay a test-mode link of merchant A through the hosted page and the sandbox."""
        code = self.shop.paylink.links.get(link_id).code
        payment_id = self.shop.choose(code, method, client=self.shop.visitor())
        paid = self.shop.sandbox_pay(payment_id)
        assert paid.status_code == 200, paid.text
        return payment_id


def build_desk(shop: Shop) -> Desk:
    """Add merchant B and the staff accounts to a shop; cheap hashing for the tests."""
    users = UserService(shop.paylink.app, shop.paylink.merchants, hasher=FAST_HASHER)
    shop.app.state.services.paylink.users = users
    other = shop.paylink.merchants.register(OTHER_MERCHANT, "owner@tokolain.example")
    users.create_user(shop.merchant_id, OWNER, PASSWORD, "owner", "Budi")
    users.create_user(shop.merchant_id, VIEWER, PASSWORD, "viewer", "Siti")
    users.create_user(other, OTHER_OWNER, PASSWORD, "owner", "Lain")
    return Desk(shop=shop, users=users, other_merchant=other)


def sign_in(client: Http, email: str, password: str, next_path: str = "/dashboard") -> Reply:
    """Open the sign-in form and submit it (no redirects followed)."""
    page = client.get("/dashboard/login")
    assert page.status_code == 200, page.text
    form = {"csrf": csrf_of(page.text), "email": email, "password": password, "next": next_path}
    return client.post("/dashboard/login", data=form, follow_redirects=False)


def token(client: Http, path: str = "/dashboard") -> str:
    """The CSRF token the forms of a signed-in page carry."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def post(client: Http, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Reply:
    """POST a form with this session's CSRF token (no redirects followed)."""
    form = {"csrf": token(client), **(data or {})}
    return client.post(path, data=form, follow_redirects=False, **kw)


def field_errors(html: str) -> dict[str, str]:
    """The messages a form page shows beside its fields, by input name."""
    return dict(ERROR_FOR.findall(html))


def assert_named_beside(response: Reply, field: str, message: str) -> None:
    """A form page answered 422, saying ``message`` beside the input ``field``, marked
    invalid."""
    assert response.status_code == 422, response.text
    errors = field_errors(response.text)
    assert field in errors, errors
    assert message in errors[field], errors
    assert 'aria-invalid="true"' in response.text


def is_test_client(client: Http) -> bool:
    """Whether the client is the in-process TestClient."""
    return isinstance(client, TestClient)


class _Inputs(HTMLParser):
    """What a browser would submit from a page's forms: inputs' values, checked boxes and
    radios, selected options (else the first), textareas' text."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, Any] = {}
        self._select: str | None = None
        self._first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = {key: value or "" for key, value in attrs}
        name = given.get("name")
        if tag == "input" and name:
            if given.get("type") in ("checkbox", "radio"):
                if "checked" in given:
                    self._add(name, given.get("value", "on"), many=given["type"] == "checkbox")
            elif given.get("type") != "hidden":
                self.values[name] = given.get("value", "")
        elif tag == "select" and name:
            self._select, self._first = name, None
        elif tag == "option" and self._select is not None:
            value = given.get("value", "")
            if self._first is None:
                self._first = value
                self.values[self._select] = value
            if "selected" in given:
                self.values[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.values[self._textarea] += data

    def _add(self, name: str, value: str, *, many: bool) -> None:
        if many:
            self.values.setdefault(name, []).append(value)
        else:
            self.values[name] = value


def form_inputs(html: str) -> dict[str, Any]:
    """The values a browser would submit from the forms of ``html`` (checkboxes as lists),
    the CSRF token left out (``post`` adds it)."""
    parser = _Inputs()
    parser.feed(html)
    return parser.values
