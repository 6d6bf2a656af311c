"""What every dashboard page shares: the templates and their filters, the page's JSON data for
``static/fairwheel.js``, rendering, and page links.

Pages read the session from the dashboard's HttpOnly cookie; every action is a call to the JSON
API made by ``static/fairwheel.js`` after the wallet signed what it must.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from fairwheel.api import settled as st
from fairwheel.api.context import ApiContext, get_ctx, session_of
from fairwheel.api.state import Session

__all__ = [
    "HERE",
    "PAGE_SIZE",
    "Ctx",
    "chain_time",
    "page_links",
    "render",
    "templates",
    "tokens",
]

HERE = FilePath(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
Ctx = Annotated[ApiContext, Depends(get_ctx)]
#: Rows per page of the records and calls tables.
PAGE_SIZE = 50


def tokens(units: Any, decimals: int = 18) -> str:
    """Token base units as a short decimal number of tokens (``1500000000000000000`` -> 1.5)."""
    value = Decimal(int(units)) / Decimal(10**decimals)
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def chain_time(timestamp: Any) -> str:
    """A chain timestamp as UTC date and time."""
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d %H:%M UTC")


def _short(address: str | None) -> str | None:
    return f"{address[:6]}…{address[-4:]}" if address and len(address) > 12 else address


def purposes(bits: Any) -> str:
    """A consent's purposes bit set in words (``3`` -> ``search, training``)."""
    from fairwheel.domain.typed_data import PURPOSE_RESALE, PURPOSE_SEARCH, PURPOSE_TRAINING

    value = int(bits)
    names = [
        name
        for bit, name in (
            (PURPOSE_SEARCH, "search"),
            (PURPOSE_TRAINING, "training"),
            (PURPOSE_RESALE, "resale"),
        )
        if value & bit
    ]
    return ", ".join(names) or "none"


templates.env.filters["tokens"] = tokens
templates.env.filters["purposes"] = purposes
templates.env.filters["chaintime"] = chain_time
templates.env.filters["short"] = _short


def _selector(signature: str) -> str:
    from eth_utils import keccak

    return "0x" + keccak(signature.encode())[:4].hex()


def _page_data(ctx: ApiContext, session: Session | None, extra: Mapping[str, Any]) -> Markup:
    with ctx.use() as node:
        info = st.chain_info(node)
    data = {
        "dev": ctx.config.dev,
        "devWallets": [
            {"name": k.name, "role": k.role, "address": k.address} for k in ctx.dev_wallets.values()
        ],
        "session": None
        if session is None
        else {"address": session.address, "isOperator": session.is_operator},
        "chain": {"chainId": info.chain_id, "embedded": info.embedded, "contracts": info.contracts},
        "selectors": {
            "approve": _selector("approve(address,uint256)"),
            "deposit": _selector("deposit(uint256,uint256)"),
            "requestWithdraw": _selector("requestWithdraw(uint256,uint256)"),
            "withdraw": _selector("withdraw(uint256)"),
        },
        **extra,
    }
    # JSON inside <script>: "</" must not end the element.
    return Markup(json.dumps(data).replace("</", "<\\/"))


def render(
    request: Request,
    ctx: ApiContext,
    name: str,
    data: Mapping[str, Any] | None = None,
    **values: Any,
) -> HTMLResponse:
    """Render a page with the session, dev flag, operator and page data every page needs.

    Args:
        request: The page request (its cookie carries the session).
        ctx: The API context.
        name: The template.
        data: More keys for the page's JSON data (read by ``static/fairwheel.js``).
        **values: The template's own values.
    """
    session = session_of(request, None)
    values.update(
        session=session,
        dev=ctx.config.dev,
        page_data=_page_data(ctx, session, data or {}),
        operator=ctx.operator_address,
    )
    return templates.TemplateResponse(request, name, values)


def page_links(path: str, params: Mapping[str, Any], page: int, pages: int) -> list[dict[str, Any]]:
    """Links to every page of a paged table (an ellipsis stands for long runs of pages).

    Args:
        path: The page's path.
        params: The query parameters to keep (empty values are left out).
        page: The current page, from 1.
        pages: How many pages there are.

    Returns:
        ``{"page", "href", "current"}`` per link; ``page`` is None for an ellipsis.
    """
    keep = {k: v for k, v in params.items() if v not in (None, "")}
    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    links: list[dict[str, Any]] = []
    previous = 0
    for n in shown:
        if n - previous > 1:
            links.append({"page": None, "href": None, "current": False})
        links.append(
            {"page": n, "href": f"{path}?{urlencode({**keep, 'page': n})}", "current": n == page}
        )
        previous = n
    return links
