"""The one reader of ``Authorization: Bearer <token>`` (RFC 6750), for every caller.

Our API's secret keys (``api.auth``, the direct path of ``api.direct``, the request
middleware that refuses a keyless ``/v1/`` request before reading its body) and the
bearer tokens of SNAP callbacks (``channels.snap_callbacks``) are all read here.
"""

from __future__ import annotations


def bearer_token(authorization: str | bytes | None) -> str | None:
    """The token of an ``Authorization`` header value ``Bearer <token>``, else ``None``.

    The scheme is case-insensitive and the value may be surrounded by spaces; the token is
    one word (no whitespace inside). Raw header bytes are read as Latin-1, as HTTP's are.
    """
    if isinstance(authorization, bytes):
        authorization = authorization.decode("latin-1")
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return None
    return token
