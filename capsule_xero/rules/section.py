"""The base of every section of the rules file: unknown keys refused, an empty section means its defaults."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # What the error for an unknown key calls it ("key", "condition" ...), and an example of one.
    _unknown_word: ClassVar[str] = "key"
    _example: ClassVar[str] = "a section of key: value lines"

    @classmethod
    def expected_keys(cls, data: Any) -> list[str]:
        """The keys this section accepts (by their YAML names), for 'unknown key' errors."""
        return [info.alias or name for name, info in cls.model_fields.items()]

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        """`sync:` with every line under it commented out is the default section, not an error."""
        if not isinstance(data, dict):
            return data
        fields = {info.alias or name: info for name, info in cls.model_fields.items()}
        return {
            key: value
            for key, value in data.items()
            if not (value is None and key in fields and fields[key].default is not None)
        }
