"""The overview: balances, today's volume, the funnel and the charts, kept live."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from markupsafe import Markup

from api.dashboard import charts
from api.dashboard.render import fragment, method_label, render, words
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import Staff, StaffDep
from api.deps import get_models
from api.pages import language
from paylink_es.application.services import Paylink
from paylink_es.locale import Language, format_money
from projections.queries import ledger as ledger_queries
from projections.queries import links as link_queries
from projections.queries import stats as stats_queries
from projections.queries.stats import FUNNEL_STEPS
from projections.runner import ReadModels

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
REGIONS = ("balances", "today", "funnel", "by_day", "by_method", "recent")


def _short_day(day: str) -> str:
    return date.fromisoformat(day).strftime("%d/%m")


def _money(currency: str, lang: Language) -> charts.Format:
    return lambda amount: format_money(amount, currency, lang)


def overview_data(request: Request, staff: Staff) -> dict[str, Any]:
    """Everything the overview shows, for the page and for the live stream alike."""
    models: ReadModels = get_models(request)
    paylink: Paylink = request.app.state.paylink
    lang, t = language(request), words(request)
    now = paylink.now()
    numbers = stats_queries.overview(models, staff.merchant_id, staff.mode, now)
    funnel = charts.bars(
        [(step, numbers.funnel[step]) for step in FUNNEL_STEPS],
        title=t["funnel"],
        show=str,
        label=lambda step: t[f"funnel_{step}"],
        testid="funnel-chart",
        colours=charts.FUNNEL_COLOURS,
    )

    def per_currency(
        draw: charts.Chart,
        series: Mapping[str, Sequence[tuple[str, int]]],
        heading: str,
        label: Callable[[str], str],
        testid: str,
    ) -> list[tuple[str, Markup]]:
        """One chart of each currency's series, its amounts written in that currency."""
        return [
            (
                currency,
                draw(
                    points,
                    title=f"{t[heading]} · {currency}",
                    show=_money(currency, lang),
                    label=label,
                    testid=f"{testid}-{currency}",
                ),
            )
            for currency, points in series.items()
        ]

    by_day = per_currency(charts.columns, numbers.by_day, "volume_by_day", _short_day, "day-chart")
    by_method = per_currency(
        charts.bars, numbers.by_method, "volume_by_method", method_label, "method-chart"
    )
    recent = link_queries.list_links(models, staff.merchant_id, staff.mode, now, limit=8)
    return {
        "books": ledger_queries.balances(models, staff.merchant_id, staff.mode),
        "numbers": numbers,
        "funnel_chart": funnel,
        "day_charts": by_day,
        "method_charts": by_method,
        "links": recent.items,
    }


def overview_regions(request: Request, staff: Staff, params: dict[str, str]) -> dict[str, str]:
    """The overview's live regions as HTML."""
    del params
    data = overview_data(request, staff)
    return {name: fragment(request, f"_overview_{name}.html", staff, **data) for name in REGIONS}


@router.get("/dashboard")
def overview(request: Request, staff: StaffDep) -> Response:
    """The overview page; its numbers follow the projections over /dashboard/stream."""
    return render(
        request,
        "overview.html",
        staff,
        title=words(request)["nav_overview"],
        stream="/dashboard/stream?page=overview",
        **overview_data(request, staff),
    )
