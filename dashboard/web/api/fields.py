"""The kinds of value an API object is made of, and how a resource is described by its fields.

A `Kind` knows three things about one kind of JSON value: its JSON Schema (for the OpenAPI
document), how a stored value becomes JSON (`dump`: exact scores as numbers, times with the
academy's offset) and how an incoming value is checked (`parse`, refusing with
`dashboard.errors.Invalid` naming the field). A `Field` gives a kind a name, says where its value
is read from and whether it may be null. Two descriptions are built from fields:

- `Shape`, an object the API answers: `dump(row)` turns a row into the JSON object, `schema()`
  is its OpenAPI schema. Both come from the same list of fields, so an answered field is always
  documented, with the type it is answered in.
- `Body`, an object the API takes: `check(data)` refuses unknown fields, missing required ones
  and values of the wrong kind; `schema()` documents exactly that.

dashboard.web.api.resources holds the descriptions themselves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Callable, Mapping

from dashboard.errors import Invalid
from dashboard.models import MAX_ID
from dashboard.serializers import number, time

Schema = dict[str, Any]


# ---------------------------------------------------------------- kinds of value

@dataclass(frozen=True)
class Kind:
    """One kind of JSON value: its schema, its answer form and its input check."""

    schema: Schema
    dump: Callable[[Any], Any] | None = None
    parse: Callable[[Any, str], Any] | None = None


def _is_integer(value: Any) -> bool:
    # bool is an int in Python but not a JSON integer (SPEC §1).
    return isinstance(value, int) and not isinstance(value, bool)


def integer(lowest: int, highest: int | None = None) -> Kind:
    """A JSON integer within [lowest, highest]."""
    schema: Schema = {"type": "integer", "minimum": lowest}
    if highest is not None:
        schema["maximum"] = highest

    def parse(value: Any, name: str) -> int:
        if not _is_integer(value):
            raise Invalid("not_integer", name)
        if value < lowest or (highest is not None and value > highest):
            if highest is None:
                raise Invalid("too_small", name, min=lowest)
            raise Invalid("out_of_range", name, min=lowest, max=highest)
        return value

    return Kind(schema, parse=parse)


def text(max_length: int | None = None, min_length: int | None = None) -> Kind:
    schema: Schema = {"type": "string"}
    if min_length is not None:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length

    def parse(value: Any, name: str) -> str:
        if not isinstance(value, str) or (min_length is not None and len(value) < min_length):
            raise Invalid("not_text", name)
        if max_length is not None and len(value) > max_length:
            raise Invalid("too_long", name, max=max_length)
        return value

    return Kind(schema, parse=parse)


def choice(values: tuple[str, ...] | list[str]) -> Kind:
    """One of a fixed set of words (a risk level, a clinic reason)."""
    def parse(value: Any, name: str) -> str:
        if not isinstance(value, str) or value not in values:
            raise Invalid("not_a_choice", name, choices=", ".join(values))
        return value

    return Kind({"type": "string", "enum": list(values)}, parse=parse)


def list_of(item: Kind, *, unique: bool = False, min_items: int | None = None) -> Kind:
    """A JSON array of one kind; a bad item is named `field[i]`."""
    schema: Schema = {"type": "array", "items": item.schema}
    if unique:
        schema["uniqueItems"] = True
    if min_items is not None:
        schema["minItems"] = min_items
    dump = None if item.dump is None else (lambda values: [item.dump(value) for value in values])

    def parse(value: Any, name: str) -> list[Any]:
        if not isinstance(value, list) or (min_items is not None and len(value) < min_items):
            raise Invalid("not_list", name)
        return [item.parse(element, f"{name}[{index}]") if item.parse else element
                for index, element in enumerate(value)]

    return Kind(schema, dump, parse)


def json_value(schema: Schema | None = None) -> Kind:
    """Any JSON (a JSON column answered as stored), documented by `schema`."""
    return Kind(schema or {})


def _parse_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid("not_boolean", name)
    return value


ID = integer(1, MAX_ID)
COUNT = Kind({"type": "integer", "minimum": 0})
BOOL = Kind({"type": "boolean"}, parse=_parse_bool)
TEXT = text()
SCORE = Kind({"type": "number", "minimum": 0, "description": "exact, at most 2 decimals"}, number)
TIME = Kind({"type": "string", "format": "date-time", "description": "ISO 8601 with the academy's offset"}, time)
DATE = Kind({"type": "string", "format": "date"})
USERNAME = Kind({"type": "string", "description": "a username; null when nobody (or a deleted user)"})
VERSION = Kind({"type": "integer", "minimum": 1,
                "description": "Raised by one on every change of the object; send it back as If-Match (or "
                               "`version`) to refuse (409) a write based on an older one."})
VERSION_GIVEN = Kind({"type": "integer", "minimum": 1, "maximum": MAX_ID,
                      "description": "The version this write was based on (optional; stale: 409)."})


def nullable(schema: Schema) -> Schema:
    """`schema` or null (JSON Schema 2020-12 style, as OpenAPI 3.1 writes it)."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    if "type" not in schema:
        return schema  # any JSON value, or an anyOf that lists null itself when it may be null
    result = dict(schema)
    kind = result["type"]
    result["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
    if "enum" in result:
        result["enum"] = [*result["enum"], None]
    return result


def obj(properties: dict[str, Schema], required: list[str] | None = None, *, closed: bool = True,
        description: str | None = None) -> Schema:
    """An object schema; answers list every field (`required` defaults to all of them)."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


# ---------------------------------------------------------------- fields

# Where a field's value is read from: an attribute of the row's object (row[0]), or, written
# `row.NAME`, a value the row's query joined (a student's name, a username).
_SOURCE = re.compile(r"(row\.)?[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Field:
    """One field of an API object: its name, kind, whether it may be null, where it comes from."""

    name: str
    kind: Kind
    null: bool = False
    source: str | None = None
    description: str | None = None
    # A value worked out from the stored one (a token is active while it has no revoked_at).
    convert: Callable[[Any], Any] | None = None

    def schema(self) -> Schema:
        schema = dict(self.kind.schema)
        if self.description:
            schema["description"] = self.description
        return nullable(schema) if self.null else schema


def field(name: str, kind: Kind, description: str | None = None, *, null: bool = False,
          source: str | None = None, convert: Callable[[Any], Any] | None = None) -> Field:
    return Field(name, kind, null, source, description, convert)


def stamps() -> list[Field]:
    return [field("created_at", TIME), field("updated_at", TIME)]


# ---------------------------------------------------------------- answered objects

@dataclass
class Shape:
    """An object the API answers: the same fields make its JSON (`dump`) and its schema."""

    name: str
    description: str | None
    fields: list[Field]
    dump: Callable[[Any], dict[str, Any]] = dataclass_field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.dump = _dumper(self.name, self.fields)

    def schema(self) -> Schema:
        return obj({item.name: item.schema() for item in self.fields}, description=self.description)


def _dumper(name: str, fields: list[Field]) -> Callable[[Any], dict[str, Any]]:
    """The function that turns a row into the object: each field read from the row's object (or
    from the row, for `row.NAME`), worked out (`convert`) and put in its JSON form. Walking the
    fields costs about what a hand-written serializer costs (bench/serialize.py): the time goes
    into the values' conversions, which both do."""
    plan = []
    for item in fields:
        source = item.source or item.name
        if not _SOURCE.fullmatch(source):
            raise ValueError(f"{name}.{item.name}: a source is an attribute name or row.NAME, not {source!r}")
        plan.append((item.name, source.removeprefix("row."), source.startswith("row."), item.convert, item.kind.dump))

    def dump(row: Any) -> dict[str, Any]:
        obj = row[0]
        data = {}
        for key, attribute, on_row, convert, to_json in plan:
            value = getattr(row if on_row else obj, attribute)
            if convert is not None:
                value = convert(value)
            data[key] = value if to_json is None else to_json(value)
        return data

    return dump


# ---------------------------------------------------------------- bodies the API takes

@dataclass(frozen=True)
class Body:
    """A JSON object the API takes: which fields, which are required, what each may hold.

    `check` refuses (Invalid naming the field, the first problem in the fields' order) an unknown
    field, a missing required one, and a value of the wrong kind; it answers the values as
    checked. Checks that need the database — a lecture that exists, a session of the
    enrollment's lecture — stay with the service."""

    name: str
    description: str | None
    fields: list[Field]
    required: tuple[str, ...] = ()
    # Bodies whose rules live in a service (shared with the pages) are only documented here.
    checked_by_service: bool = False

    def __post_init__(self) -> None:
        unchecked = [item.name for item in self.fields if item.kind.parse is None]
        if unchecked and not self.checked_by_service:
            raise ValueError(f"{self.name}: no input check for {unchecked}")

    def schema(self) -> Schema:
        return obj({item.name: item.schema() for item in self.fields}, list(self.required),
                   description=self.description)

    def check(self, data: Mapping[str, Any]) -> dict[str, Any]:
        known = {item.name: item for item in self.fields}
        unknown = sorted(name for name in data if name not in known)
        if unknown:
            raise Invalid("unknown_field", unknown[0])
        checked: dict[str, Any] = {}
        for item in self.fields:
            if item.name not in data:
                if item.name in self.required:
                    raise Invalid("required", item.name)
                continue
            value = data[item.name]
            if value is None and item.null:
                checked[item.name] = None
            else:
                checked[item.name] = item.kind.parse(value, item.name) if item.kind.parse else value
        return checked
