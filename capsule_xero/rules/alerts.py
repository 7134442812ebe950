"""Where alerts go (``alerts:``): Slack, e-mail and webhook channels, with secrets named by environment variable."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from capsule_xero.rules.echo import show
from capsule_xero.rules.section import Section
from capsule_xero.rules.values import Name, no_repeats, one_or_many

# An environment variable's name: secrets (a Slack webhook URL, an SMTP password) stay out of the
# rules file, which is meant to be shared and kept in version control.
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _an_env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise ValueError(
            f"{show(value)} is not the name of an environment variable (letters, digits and _, e.g. SLACK_WEBHOOK_URL);"
            " put the secret itself in the environment, not in this file"
        )
    return value


def _a_web_address(value: str) -> str:
    if not re.match(r"https?://[^/\s]+", value):
        raise ValueError(f"{show(value)} is not a web address (http://... or https://...)")
    return value


def _a_mail_address(value: str) -> str:
    if "@" not in value:
        raise ValueError(f"{show(value)} is not an e-mail address")
    return value


MailAddress = Annotated[Name, AfterValidator(_a_mail_address)]
MailAddresses = Annotated[
    list[MailAddress], BeforeValidator(one_or_many), Field(min_length=1), AfterValidator(no_repeats)
]
EnvName = Annotated[Name, AfterValidator(_an_env_name)]
WebAddress = Annotated[Name, AfterValidator(_a_web_address)]


class SlackChannel(Section):
    """A Slack incoming webhook; its URL carries the token, so the file names the variable that holds it."""

    _example: ClassVar[str] = "a Slack channel such as {webhook_url_env: SLACK_WEBHOOK_URL}"

    webhook_url_env: EnvName

    @model_validator(mode="before")
    @classmethod
    def _no_url_in_the_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "webhook_url" in data:
            raise ValueError(
                "a Slack webhook URL carries its token, so it does not go in this file: put it in an"
                " environment variable and name that here (webhook_url_env: SLACK_WEBHOOK_URL)"
            )
        return data


class EmailChannel(Section):
    _example: ClassVar[str] = (
        "an e-mail channel such as {smtp_host: smtp.example.com.au, from: sync@example.com.au, to: [ops@example.com.au]}"
    )

    smtp_host: Name
    smtp_port: int = Field(default=587, ge=1, le=65535)
    from_: MailAddress = Field(alias="from")
    to: MailAddresses
    starttls: bool = True
    username: Name | None = None
    password_env: EnvName | None = None

    @model_validator(mode="after")
    def _password_needs_a_user(self) -> EmailChannel:
        if self.password_env and not self.username:
            raise ValueError("password_env needs a username to log in with")
        return self


class WebhookChannel(Section):
    """Any HTTP endpoint that takes a JSON POST; a URL with a token in it belongs in ``url_env``."""

    _example: ClassVar[str] = "a webhook such as {url: https://ops.example.com.au/hooks/capsule-xero}"

    url: WebAddress | None = None
    url_env: EnvName | None = None

    @model_validator(mode="after")
    def _one_address(self) -> WebhookChannel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("a webhook needs exactly one of url, url_env")
        return self


class AlertChannel(Section):
    """One entry of ``alerts.channels``: exactly one of slack, email, webhook."""

    _unknown_word: ClassVar[str] = "channel"
    _example: ClassVar[str] = "a channel such as {slack: {webhook_url_env: SLACK_WEBHOOK_URL}}"
    KINDS: ClassVar[tuple[str, ...]] = ("slack", "email", "webhook")

    slack: SlackChannel | None = None
    email: EmailChannel | None = None
    webhook: WebhookChannel | None = None

    @property
    def kind(self) -> str:
        return next(k for k in self.KINDS if getattr(self, k) is not None)

    @model_validator(mode="before")
    @classmethod
    def _no_empty_values(cls, data: Any) -> Any:
        if isinstance(data, dict):
            empty = [str(k) for k, v in data.items() if v is None and k in cls.KINDS]
            if empty:
                raise ValueError(f"{', '.join(empty)} has no settings")
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> AlertChannel:
        kinds = [k for k in self.KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a channel needs exactly one of slack, email, webhook"
                + (f" (it has {', '.join(kinds)})" if kinds else "")
            )
        return self


class AlertRules(Section):
    """Where alerts go (a person must act) and how early the refresh token's expiry is announced."""

    channels: list[AlertChannel] = []
    token_expiry_warning_days: int = Field(default=14, ge=1, le=60)
