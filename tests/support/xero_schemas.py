"""Validate the stand-in's JSON against Xero's official OpenAPI schemas in ../shared/specs/xero.

The spec folder is found at ``$CAPSULE_XERO_SPECS`` (a folder holding ``xero/`` and
``capsule/``) or ``../shared/specs`` beside the repository. A missing spec is a test failure,
never a skip: conformance is the point.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator, OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

REPO = Path(__file__).resolve().parents[2]


def specs_dir() -> Path:
    folder = Path(os.environ.get("CAPSULE_XERO_SPECS", REPO.parent / "shared" / "specs"))
    if not (folder / "xero" / "xero_accounting.yaml").is_file():
        raise FileNotFoundError(
            f"Xero OpenAPI files not found under {folder}/xero; set CAPSULE_XERO_SPECS to the specs folder"
        )
    return folder


@functools.cache
def _document(name: str) -> dict[str, Any]:
    with (specs_dir() / "xero" / name).open("rb") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loader


@functools.cache
def _registry(name: str) -> Registry:
    draft = DRAFT202012 if _is_openapi_31(name) else DRAFT4
    resource = Resource.from_contents(_document(name), default_specification=draft)
    return Registry().with_resource(name, resource)


def _is_openapi_31(name: str) -> bool:
    # xero-webhooks.yaml is OpenAPI 3.1 (its oneOf branches rest on `const`, which 3.0 lacks).
    return str(_document(name).get("openapi", "")).startswith("3.1")


def _validator(schema_name: str, spec: str) -> OAS30Validator | OAS31Validator:
    cls = OAS31Validator if _is_openapi_31(spec) else OAS30Validator
    return cls({"$ref": f"{spec}#/components/schemas/{schema_name}"}, registry=_registry(spec))


def validate(instance: Any, schema_name: str, spec: str = "xero_accounting.yaml") -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` fits ``components/schemas/<schema_name>``."""
    _validator(schema_name, spec).validate(instance)


def errors(instance: Any, schema_name: str, spec: str = "xero_accounting.yaml") -> list[str]:
    """Every violation, as readable strings (empty when the instance conforms)."""
    validator = _validator(schema_name, spec)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]
