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
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

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
    resource = Resource.from_contents(_document(name), default_specification=DRAFT4)
    return Registry().with_resource(name, resource)


def validate(instance: Any, schema_name: str, spec: str = "xero_accounting.yaml") -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` fits ``components/schemas/<schema_name>``."""
    schema = {"$ref": f"{spec}#/components/schemas/{schema_name}"}
    OAS30Validator(schema, registry=_registry(spec)).validate(instance)


def errors(instance: Any, schema_name: str, spec: str = "xero_accounting.yaml") -> list[str]:
    """Every violation, as readable strings (empty when the instance conforms)."""
    schema = {"$ref": f"{spec}#/components/schemas/{schema_name}"}
    validator = OAS30Validator(schema, registry=_registry(spec))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]
