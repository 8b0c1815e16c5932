"""Pydantic's validation errors -> our sentences; the one place they are translated.

Each error becomes a Problem ``FILE:LINE: path.to.field: what is wrong (what was
expected)``. Values are quoted only as the file wrote them (``Document.shown``), so a value
substituted from the environment never appears in a message.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from monitor.config.yamldoc import Document, FieldPath


def check(model: type[BaseModel], data: Any, doc: Document, at: FieldPath) -> BaseModel | None:
    """Validate ``data`` (found at ``at`` in ``doc``); record each error as a Problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            path = yaml_path(doc, (*at, *error["loc"]))
            if path in doc.unusable:
                continue
            doc.problem(path, _sentence(error, doc, path, model, tuple(error["loc"])))
        return None


def yaml_path(doc: Document, path: FieldPath) -> FieldPath:
    # A single string standing for a list ("notify: desk") is reported as itself, not [0].
    if path not in doc.lines and path[:-1] in doc.raw and path[-1:] == (0,):
        return path[:-1]
    return path


def _sentence(error: Any, doc: Document, path: FieldPath, model: type[BaseModel], loc: FieldPath) -> str:
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return "missing (this field is required)"
    if kind == "extra_forbidden":
        return f"unknown field (expected one of: {', '.join(_fields(model, loc[:-1]))})"
    if kind == "monitor_value":
        detail = f": {ctx['detail']}" if ctx.get("detail") and path not in doc.env else ""
        return f"{doc.shown(path)} {ctx['problem']}{detail} ({ctx['expected']})"
    if kind == "monitor_type":
        return f"got {kind_of(given)} ({ctx['expected']})"
    if kind == "monitor_message":
        return str(ctx["message"])
    if kind == "string_type":
        hint = "; put it in quotes" if isinstance(given, bool) else ""
        return f"got {kind_of(given)} (expected text{hint})"
    if kind in ("bool_type", "bool_parsing"):
        if isinstance(given, str):
            return f"{doc.shown(path)} is not true or false (expected true or false)"
        return f"got {kind_of(given)} (expected true or false)"
    if kind in ("list_type", "tuple_type", "iterable_type"):
        return f"got {kind_of(given)} (expected a list)"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"got {kind_of(given)} (expected a mapping of name: value)"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return f"is not valid ({kind})"


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a value"


def _fields(model: Any, loc: FieldPath) -> list[str]:
    """The field names of the model found at ``loc`` inside ``model`` (for unknown fields)."""
    annotation = model
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, int):
            annotation = typing.get_args(annotation)[0]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = annotation.model_fields[part].annotation
        else:
            annotation = typing.get_args(annotation)[-1]
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation

