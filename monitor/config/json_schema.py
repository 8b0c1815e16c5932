"""JSON Schema for monitor.yaml and watch-list files, generated from the config models.

Editors (through yaml-language-server) validate and complete as people type. The schema
describes the files as written, not the validated models: durations are text like
``10m`` (not ISO 8601), and a single name may stand for a list of one. The loader stays
the authority: the schema catches typos early, the loader checks what a schema cannot
(channels and sources that exist, cron expressions, regular expressions).
"""

from __future__ import annotations

import json
from datetime import time, timedelta
from typing import Annotated, Any

from pydantic import Field
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from monitor.config import schema as s
from monitor.config.load import _ConfigIn, _InlineWatchListIn, _SourceIn, _WatchListIn
from monitor.sources.registry import KINDS

SCHEMA_ID = "https://press-monitor.invalid/schema/"
DURATION_PATTERN = r"^\s*(?=\d)(\d+d)?(\d+h)?(\d+m)?(\d+s)?\s*$"

Glob = Annotated[str, Field(description="A glob of watch-list files, relative to this file, like watchlists/*.yaml")]


# Subclasses only to name the schema's definitions (and describe them) as users know them.
class Source(_SourceIn):
    """A source to poll: a feed or a listing page."""


class InlineWatchList(_InlineWatchListIn):
    """A watch list written in monitor.yaml: any of keywords, all of require, none of exclude."""


class _MonitorFile(_ConfigIn):
    """press-monitor configuration (monitor.yaml). Reference: docs/configuration.md."""

    defaults: s.Defaults | None = None
    channels: dict[str, s.NotifyUrls | s.ChannelConfig] | None = None
    sources: list[Source] | None = None
    watchlists: list[Glob | InlineWatchList] | None = None


class _WatchListFile(_WatchListIn):
    """A press-monitor watch list: any of keywords, all of require, none of exclude."""


def _refined(validator: Any) -> JsonSchemaValue | None:
    """The schema of a text value that one of the config's validators checks, if it has one."""
    known: dict[Any, JsonSchemaValue] = {
        s._source_id: {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]*$",
                       "description": "Stable id: lower-case letters, digits, - and _"},
        s._kind: {"type": "string", "enum": list(KINDS)},
        s._web_url: {"type": "string", "pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]?://\S+\s*$",
                     "description": "An http:// or https:// address"},
        s._notify_url: {"type": "string", "pattern": r"^\s*[A-Za-z][A-Za-z0-9+.-]*://\S*\s*$",
                        "description": "An apprise URL like mailtos://... or console:// (see docs/channels.md)"},
        s._cron: {"type": "string", "description": "5 fields: minute hour day month weekday, like */5 7-22 * * *"},
        s._timezone: {"type": "string", "description": "An IANA time zone like Asia/Karachi or UTC"},
        s._listen: {"type": "string", "pattern": r"^.+:[0-9]{1,5}$",
                    "description": "host:port like 127.0.0.1:9108"},
    }
    return known.get(validator)


class _FileSchema(GenerateJsonSchema):
    """Pydantic's generator, taught how our value types are written in YAML."""

    def timedelta_schema(self, schema: core_schema.TimedeltaSchema) -> JsonSchemaValue:
        return {"type": "string", "pattern": DURATION_PATTERN,
                "description": "A duration: 45s, 10m, 2h, 1d or combined like 1h30m"}

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> JsonSchemaValue:
        if schema["function"]["function"] is s._one_or_many:
            inner = self.generate_inner(schema["schema"])
            if inner.get("type") == "array":
                return {"anyOf": [inner["items"], inner]}
        # Others: the validated type, or what BeforeValidator(json_schema_input_type=...) says.
        return super().function_before_schema(schema)

    def function_after_schema(self, schema: core_schema.AfterValidatorFunctionSchema) -> JsonSchemaValue:
        function = schema["function"]["function"]
        refined = _refined(function)
        if refined is not None:
            return refined
        inner = self.generate_inner(schema["schema"])
        if getattr(function, "__qualname__", "").startswith("_not_empty."):
            for option in inner.get("anyOf", [inner]):
                if option.get("type") == "array":
                    option["minItems"] = 1
        return inner

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return s.format_duration(dft)
        if isinstance(dft, time):
            return dft.strftime("%H:%M")
        return super().encode_default(dft)


def monitor_schema() -> dict[str, Any]:
    """The JSON Schema of monitor.yaml."""
    return _finish(_MonitorFile.model_json_schema(schema_generator=_FileSchema), "monitor.schema.json",
                   "press-monitor configuration")


def watchlist_schema() -> dict[str, Any]:
    """The JSON Schema of one watch-list file."""
    return _finish(_WatchListFile.model_json_schema(schema_generator=_FileSchema), "watchlist.schema.json",
                   "press-monitor watch list")


def _finish(schema: dict[str, Any], name: str, title: str) -> dict[str, Any]:
    schema.pop("title", None)
    _drop_titles(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID + name, "title": title,
            **schema}


def _drop_titles(node: Any) -> None:
    """Pydantic titles each property after its Python name; editors show the key already."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for value in properties.values():
                if isinstance(value, dict):
                    value.pop("title", None)
        for value in node.values():
            _drop_titles(value)
    elif isinstance(node, list):
        for value in node:
            _drop_titles(value)


def dumps(schema: dict[str, Any]) -> str:
    """The schema as shipped in schema/: stable key order, two-space indent, final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
