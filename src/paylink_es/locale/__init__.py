"""Everything said to people, in one place: Bahasa Indonesia (the default) and English.

- the catalogues: the hosted payment page's words (:data:`PAGE_TEXT`), the dashboard's
  (:data:`DASHBOARD_TEXT`) and the messages that send a link (:data:`MESSAGE_TEXT`),
  one dict per language with the same keys;
- :func:`format_money`, the one way an amount is written (integer minor units and a
  currency code, never a float), and :func:`format_link_amount` for a link's amount or
  range;
- :func:`format_instant`, the one way an instant is written, in WIB;
- :data:`WIB`, Asia/Jakarta (UTC+7), the zone of every calendar day the platform keeps.
"""

from __future__ import annotations

from paylink_es.domain.clock import WIB
from paylink_es.locale.dashboard import (
    DASHBOARD_TEXT,
    error_message,
    event_label,
    status_label,
    timeline_sentence,
)
from paylink_es.locale.formats import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    InstantStyle,
    Language,
    format_digits,
    format_instant,
    format_link_amount,
    format_money,
    language_of,
    other_language,
    read_amount,
)
from paylink_es.locale.messages import MESSAGE_TEXT
from paylink_es.locale.page import PAGE_TEXT, method_name

__all__ = [
    "DASHBOARD_TEXT",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "MESSAGE_TEXT",
    "PAGE_TEXT",
    "WIB",
    "InstantStyle",
    "Language",
    "error_message",
    "event_label",
    "format_digits",
    "format_instant",
    "format_link_amount",
    "format_money",
    "language_of",
    "method_name",
    "other_language",
    "read_amount",
    "status_label",
    "timeline_sentence",
]
