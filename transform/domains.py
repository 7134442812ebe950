"""Which business a domain is: the host of a website or e-mail address, and free-mail providers.

``company_domain`` is what matching compares (transform/sql/reconcile/contact_matches.sql): the domain
of an e-mail address or website, unless it is a free-mail provider's, which never says which
business a contact is. Pure and total like transform/normalise.py, whose e-mail reading it uses.
"""

from __future__ import annotations

import re
from typing import Any

from transform.normalise import HOST_RE, email_domain

# -------------------------------------------------------------------------------------------- website

_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://")


def website_domain(value: Any) -> str | None:
    """The host of a website, lower case, without scheme, leading ``www.``, user, port or path.

    ``"https://www.Example.com.au/about"`` → ``"example.com.au"``; ``"http://example.com:8080"`` →
    ``"example.com"``. Unicode hosts become their IDNA (``xn--``) form. None when no plausible host.
    """
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    text = _SCHEME_RE.sub("", text, count=1)
    text = text.removeprefix("//")
    text = re.split(r"[/?#\\]", text, maxsplit=1)[0]  # path, query, fragment
    text = text.rpartition("@")[2]  # user:password@
    text = text.partition(":")[0].rstrip(".")  # port; the root-zone dot
    while text.startswith("www."):
        text = text[4:]
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except Exception:  # the codec raises UnicodeError, ValueError ... on odd labels
            return None
    if len(text) > 253 or not HOST_RE.fullmatch(text):
        return None
    return text


# ------------------------------------------------------------------------------------------ free mail

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # global webmail
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "outlook.com.au",
        "hotmail.com",
        "hotmail.com.au",
        "hotmail.co.uk",
        "hotmail.co.nz",
        "live.com",
        "live.com.au",
        "live.co.uk",
        "msn.com",
        "windowslive.com",
        "yahoo.com",
        "yahoo.com.au",
        "yahoo.co.uk",
        "yahoo.co.nz",
        "ymail.com",
        "rocketmail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "protonmail.com",
        "protonmail.ch",
        "proton.me",
        "pm.me",
        "gmx.com",
        "gmx.net",
        "mail.com",
        "zoho.com",
        "zohomail.com",
        "fastmail.com",
        "fastmail.fm",
        "hey.com",
        "tutanota.com",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        # Australian ISPs' mailboxes
        "bigpond.com",
        "bigpond.net.au",
        "bigpond.com.au",
        "telstra.com",
        "optusnet.com.au",
        "optus.com.au",
        "iinet.net.au",
        "internode.on.net",
        "tpg.com.au",
        "westnet.com.au",
        "dodo.com.au",
        "ozemail.com.au",
        "adam.com.au",
        "aapt.net.au",
        "exetel.com.au",
        "netspace.net.au",
        "people.net.au",
        "primus.com.au",
        "spin.net.au",
        "chariot.net.au",
        # New Zealand ISPs' mailboxes
        "xtra.co.nz",
        "slingshot.co.nz",
        "orcon.net.nz",
        "clear.net.nz",
    }
)


def _domain_of(value: Any) -> str | None:
    """The domain of an e-mail address (when ``value`` looks like one) or of a website."""
    if not isinstance(value, str):
        return None
    if "@" in value and "://" not in value:
        # website_domain again so that "sam@www.x.com.au" and "www.x.com.au" give one domain
        return website_domain(email_domain(value))
    return website_domain(value)


def is_free_mail(domain: Any) -> bool:
    """True when ``domain`` (or the domain of an e-mail address / website) is a free-mail provider's."""
    host = _domain_of(domain)
    return host is not None and host in FREE_MAIL_DOMAINS


def is_free_mail_or_null(domain: Any) -> bool | None:
    """``is_free_mail`` with NULL in → NULL out, for SQL."""
    return None if domain is None else is_free_mail(domain)


def company_domain(value: Any) -> str | None:
    """The domain of an e-mail address or website, unless it is free mail (then None)."""
    host = _domain_of(value)
    return None if host is None or host in FREE_MAIL_DOMAINS else host
