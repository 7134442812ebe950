"""One step of ``transforms:``, which shapes a text field of the desired Xero contact."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from capsule_xero.rules.echo import show
from capsule_xero.rules.fields import COMPARED_FIELDS, TEXT_FIELDS
from capsule_xero.rules.limits import XERO_TEXT_LIMITS
from capsule_xero.rules.section import Section
from capsule_xero.rules.values import Text

TransformOp = Literal["trim", "upper", "lower", "title", "truncate", "replace", "default", "prefix", "suffix"]


class Transform(Section):
    """One step of ``transforms``: ``op`` applied to ``field`` of the desired Xero contact."""

    _example: ClassVar[str] = "a transform such as {field: name, op: truncate, length: 255}"

    OP_PARAMS: ClassVar[dict[str, tuple[str, ...]]] = {
        "trim": (),
        "upper": (),
        "lower": (),
        "title": (),
        "truncate": ("length",),
        "replace": ("find", "with"),
        "default": ("value",),
        "prefix": ("value",),
        "suffix": ("value",),
    }

    field: str
    op: TransformOp
    length: int | None = None
    find: Text | None = None
    with_: Text | None = Field(default=None, alias="with")
    value: Text | None = None

    @model_validator(mode="after")
    def _fits_the_op(self) -> Transform:
        if self.field not in TEXT_FIELDS:
            if self.field in COMPARED_FIELDS:
                raise ValueError(
                    f"field {show(self.field)} cannot be transformed (only the text fields {', '.join(TEXT_FIELDS)} can)"
                )
            raise ValueError(f"field {show(self.field)} is not one of {', '.join(TEXT_FIELDS)}")
        wanted = self.OP_PARAMS[self.op]
        given = [p for p in ("length", "find", "with", "value") if self.param(p) is not None]
        extra = [p for p in given if p not in wanted]
        if extra:
            takes = f"takes {' and '.join(wanted)}" if wanted else "takes nothing but field"
            raise ValueError(f"{self.op} {takes}, not {', '.join(extra)}")
        limit = XERO_TEXT_LIMITS[self.field]
        if self.op == "truncate" and (self.length is None or self.length <= 0):
            raise ValueError(f"truncate needs a positive length (e.g. length: {limit})")
        if self.op == "truncate" and self.length is not None and self.length > limit:
            # Also what keeps the length a number DuckDB can bind (a BIGINT): 1e23 broke the reconcile.
            raise ValueError(
                f"truncate length must be from 1 to {limit} (Xero keeps at most {limit} characters of {self.field})"
            )
        for name in ("find", "with", "value"):
            text = self.param(name)
            if text is not None and len(text) > limit:
                raise ValueError(
                    f"{name} is {len(text):,} characters; Xero keeps at most {limit} in {self.field}"
                )
        if self.op == "replace" and not self.find:
            raise ValueError('replace needs the text to find (find: "...", with: "...")')
        if self.op in {"default", "prefix", "suffix"} and not self.value:
            raise ValueError(f'{self.op} needs a value (value: "...")')
        if self.field == "email_address" and self.op in {"upper", "lower", "title"}:
            raise ValueError(
                f"{self.op} has no effect on email_address: e-mail addresses are kept in lower case"
            )
        return self

    def param(self, name: str) -> Any:
        return getattr(self, "with_" if name == "with" else name)
