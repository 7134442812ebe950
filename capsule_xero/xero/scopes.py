"""The Xero scopes to ask for: contacts and settings always, money only as far as the rules file turns it on.

Xero apps registered on or after 2 March 2026 are offered only *granular* scopes
(``accounting.invoices``, ``accounting.payments``); older apps keep the *broad*
``accounting.transactions`` until September 2027, and may not be offered the granular names yet.
``XERO_SCOPE_STYLE`` says which kind the app has (docs/api-facts.md#xero-scopes-for-money). The
contacts and settings scopes are the same for both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

ScopeStyle = Literal["granular", "broad"]
Access = Literal["read", "write"]

# What the tool has always asked for: the contact sync needs these whatever the rules file says.
SIGN_IN_SCOPES = (
    "openid",
    "profile",
    "email",
    "offline_access",
    "accounting.contacts",
    "accounting.settings.read",
)
CUSTOM_CONNECTION_SCOPES = ("accounting.contacts", "accounting.settings.read")

# Scope family → scope name, per style; a ``.read`` suffix is the read-only form.
MONEY_SCOPES: dict[ScopeStyle, dict[str, str]] = {
    "granular": {"invoices": "accounting.invoices", "payments": "accounting.payments"},
    "broad": {"invoices": "accounting.transactions", "payments": "accounting.transactions"},
}


def money_scopes(access: Mapping[str, Access], style: ScopeStyle) -> list[str]:
    """The money scopes for ``access`` (family → read or write), sorted; a write scope covers reading."""
    wanted: dict[str, Access] = {}
    for family, how in access.items():
        name = MONEY_SCOPES[style][family]
        wanted[name] = "write" if "write" in (how, wanted.get(name)) else "read"
    return sorted(name if how == "write" else f"{name}.read" for name, how in wanted.items())


def every_access(accesses: Iterable[Mapping[str, Access]]) -> dict[str, Access]:
    """What several rules files need together (one sign-in serving many tenants): write wins over read."""
    union: dict[str, Access] = {}
    for access in accesses:
        for family, how in access.items():
            union[family] = "write" if "write" in (how, union.get(family)) else "read"
    return union


def sign_in_scopes(access: Mapping[str, Access], style: ScopeStyle) -> tuple[str, ...]:
    """What ``auth login`` asks Xero for."""
    return (*SIGN_IN_SCOPES, *money_scopes(access, style))


def custom_connection_scopes(access: Mapping[str, Access], style: ScopeStyle) -> tuple[str, ...]:
    """What a custom connection's ``client_credentials`` request asks for."""
    return (*CUSTOM_CONNECTION_SCOPES, *money_scopes(access, style))


def scope_for(family: str, access: Access, style: ScopeStyle) -> str:
    """The one scope that grants ``access`` to ``family`` (for the message when it is missing)."""
    return money_scopes({family: access}, style)[0]
