"""Spec-driven parameter checks: method names, required fields and basic types."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sandbox.errors import bad_request

SPEC_PATH = Path(__file__).with_name("botapi_spec.json")
_INT_RE = re.compile(r"^-?\d+$")
# Telegram's own wording for the most common missing parameters; others get "<name> is required".
_MISSING_WORDING = {
    "chat_id": "chat_id is empty",
    "text": "message text is empty",
    "callback_query_id": "query is too old and response timeout expired or query ID is invalid",
}
_EMPTY_IS_MISSING = {"chat_id", "text", "callback_query_id"}


@dataclass(frozen=True)
class Upload:
    """A file part received in a multipart request."""

    data: bytes
    filename: str | None = None
    content_type: str | None = None


@cache
def load_spec() -> dict[str, Any]:
    """Load the vendored, trimmed Bot API spec."""
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@cache
def _lower_names() -> dict[str, str]:
    return {name.lower(): name for name in load_spec()["methods"]}


def spec_version() -> str:
    """Return the Bot API version string of the vendored spec."""
    return str(load_spec()["version"])


def resolve_method(name: str) -> str | None:
    """Return the canonical method name (Telegram matches names case-insensitively), or None."""
    return _lower_names().get(name.lower())


def method_returns(method: str) -> list[str]:
    """Return the spec's return types of a method."""
    return list(load_spec()["methods"][method]["returns"])


def validate_params(method: str, raw: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
    """Check required fields and coerce values to the spec's types; unknown fields pass through."""
    params = dict(raw)
    for field in load_spec()["methods"][method]["fields"]:
        name, types = field["name"], field["types"]
        value: Any = raw.get(name, uploads.get(name))
        if value is None or (value == "" and name in _EMPTY_IS_MISSING):
            params.pop(name, None)
            if field["required"]:
                raise bad_request(_MISSING_WORDING.get(name, f"{name} is required"))
            continue
        params[name] = coerce(name, value, types, uploads)
    return params


def coerce(name: str, value: Any, types: list[str], uploads: dict[str, Upload]) -> Any:
    """Coerce one value to the first spec type it fits, or raise a 400."""
    for type_name in types:
        ok, converted = _try_type(type_name, value, uploads)
        if ok:
            return converted
    if any(_is_object_type(t) for t in types) and isinstance(value, str):
        raise bad_request(f"can't parse {name} JSON object")
    raise bad_request(f'field "{name}" must be of type {" or ".join(types)}')


def _is_object_type(type_name: str) -> bool:
    return type_name.startswith("Array of ") or type_name not in {
        "Integer",
        "Float",
        "Boolean",
        "String",
        "InputFile",
    }


def _try_type(type_name: str, value: Any, uploads: dict[str, Upload]) -> tuple[bool, Any]:
    if isinstance(value, Upload):
        return type_name == "InputFile", value
    if type_name == "Integer":
        if isinstance(value, bool):
            return False, None
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        if isinstance(value, str) and _INT_RE.match(value.strip()):
            return True, int(value.strip())
        return False, None
    if type_name == "Float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        if isinstance(value, str):
            try:
                return True, float(value)
            except ValueError:
                return False, None
        return False, None
    if type_name == "Boolean":
        if isinstance(value, bool):
            return True, value
        text = str(value).strip().lower()
        if text in {"true", "1"}:
            return True, True
        if text in {"false", "0", ""}:
            return True, False
        return False, None
    if type_name == "String":
        if isinstance(value, str):
            return True, value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, str(value)
        return False, None
    if type_name == "InputFile":
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in uploads:
            return True, uploads[value[9:]]
        return False, None
    return _try_json(type_name, value, uploads)


def _try_json(type_name: str, value: Any, uploads: dict[str, Upload]) -> tuple[bool, Any]:
    # Form bodies carry nested objects as JSON text (python-telegram-bot does this); JSON bodies do not.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return False, None
    if type_name.startswith("Array of "):
        if not isinstance(value, list):
            return False, None
        inner = type_name.removeprefix("Array of ")
        items = []
        for item in value:
            ok, converted = _try_type(inner, item, uploads)
            if not ok:
                return False, None
            items.append(converted)
        return True, items
    return isinstance(value, dict), value
