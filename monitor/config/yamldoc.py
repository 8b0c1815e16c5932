"""YAML text -> plain values, with the line of every key and item and ``${NAME}`` substituted.

PyYAML's constructors forget where a value came from, so we compose the node graph and
build the values ourselves, keeping a map from each value's path (``("sources", 2,
"every")``) to its 1-based line. Two more things happen on the way, because they need the
nodes: numbers, dates and the like stay the text they were written as (no config field is
numeric, and ``keywords: [1965]`` means the word), and ``${NAME}`` in a string is replaced
by the environment variable NAME. For every substituted value we keep the text as written,
so messages can quote that text and never a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from monitor.errors import Problem
from monitor.standins import StandIns

FieldPath = tuple[str | int, ...]

# libyaml's parser where PyYAML was built with it: the pure-Python one took 3x the time and
# left ~30 MB of freed-but-kept heap behind after a config of 10,000 sources.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_VAR = re.compile(r"\$(\$?)\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TEXT_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}


@dataclass(kw_only=True)
class Document:
    """One parsed YAML file: its value, where each part of it was, and what went wrong.

    ``file`` is the name to show in messages (as the user wrote it). ``lines`` maps a path
    to the line of its key (mapping entries) or of the item itself (list items); ``raw``
    maps the path of every string to the text as written; ``env`` the paths whose value came
    (partly) from environment variables, to the names of those variables. ``unusable`` holds
    the paths already reported (an unset variable, say): checking them again would only
    repeat the problem in other words. ``secrets`` maps each substituted value to its
    variable, to blank out a value that reached a message anyway.
    """

    file: str
    value: Any = None
    lines: dict[FieldPath, int] = field(default_factory=dict)
    raw: dict[FieldPath, str] = field(default_factory=dict)
    env: dict[FieldPath, tuple[str, ...]] = field(default_factory=dict)
    unusable: set[FieldPath] = field(default_factory=set)
    secrets: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: FieldPath) -> int:
        """The line of ``path``, or of its nearest ancestor that the file spells out."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1

    def shown(self, path: FieldPath) -> str:
        """The value at ``path`` as the file wrote it, safe to put in a message.

        Text that came from the environment is never shown: we name the variable instead.
        """
        raw = self.raw.get(path)
        if raw is None:
            return "this value"
        names = self.env.get(path)
        if not names:
            return repr(raw)
        if raw.strip() == f"${{{names[0]}}}" and len(names) == 1:
            return f"the value of ${{{names[0]}}}"
        return f"{raw!r} (after substituting {', '.join(f'${{{n}}}' for n in names)})"

    def problem(self, path: FieldPath, message: str) -> None:
        """Record a problem about the value at ``path``."""
        self.problems.append(
            Problem(file=self.file, line=self.line(path), field=field_name(path), message=message)
        )


def field_name(path: FieldPath) -> str:
    """``("sources", 2, "select", "item")`` -> ``sources[2].select.item``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


_UNCLOSED = {"while scanning a quoted scalar": "a quoted text", "while parsing a flow sequence": "a [list]",
             "while parsing a flow mapping": "a {mapping}"}


def parse(text: str, *, file: str, environ: Mapping[str, str]) -> Document:
    """Parse one YAML document; a syntax error becomes the document's only problem."""
    doc = Document(file=file)
    loader = _LOADER(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError:
            # Rare, so worth a second parse: the pure-Python parser words errors better
            # ("found character '@' that cannot start any token") and marks them as precisely.
            loader.dispose()
            loader = yaml.SafeLoader(text)
            node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or exc.context or "unreadable"
        opened = exc.context_mark
        if exc.context in _UNCLOSED and opened is not None and mark is not None and opened.line < mark.line:
            # An unclosed quote or bracket is found where the file ends or the next thing starts:
            # the line to mend is the one that opened it.
            what = f"{_UNCLOSED[exc.context]} that starts on this line is not closed ({what} on line {line})"
            line = opened.line + 1
        if "'@'" in what:
            what += " (put a term that starts with @ in quotes, like \"@kayani\")"
        doc.problems.append(Problem(file=file, line=line, field="", message=f"not valid YAML: {what}"))
        return doc
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(file=file, line=None, field="", message=f"not valid YAML: {exc}"))
        return doc
    try:
        if node is not None:
            doc.value = _Builder(doc, loader, environ).build(node, ())
    finally:
        loader.dispose()
    return doc


class _Builder:
    def __init__(self, doc: Document, loader: Any, environ: Mapping[str, str]) -> None:
        self.doc = doc
        self.loader = loader
        self.environ = environ
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        self.doc.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            self.doc.problem(path, "refers to itself through an alias (expected a finite value)")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[str, Any]:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                self.doc.lines[(*path, key_node.value)] = line
                self.doc.problem(
                    (*path, key_node.value), f"duplicate key (first on line {seen[key_node.value]})"
                )
            seen.setdefault(key_node.value, line)
        try:
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as exc:
            self.doc.problem(path, f"cannot merge: {exc.problem}")
            return {}
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _TEXT_TAGS:
                line = key_node.start_mark.line + 1
                self.doc.problem(path, f"the key on line {line} is not text (expected name: value)")
                continue
            key = key_node.value
            key_path = (*path, key)
            self.doc.lines[key_path] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, key_path)
        return out

    def scalar(self, node: yaml.ScalarNode, path: FieldPath) -> Any:
        if node.tag in _TEXT_TAGS:
            return self.substitute(node.value, path)
        if node.tag in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"):
            return self.loader.construct_object(node)
        self.doc.problem(path, f"unsupported YAML tag {node.tag} (expected plain values)")
        return None

    def substitute(self, text: str, path: FieldPath) -> str:
        self.doc.raw[path] = text
        names: list[str] = []

        def replace(match: re.Match[str]) -> str:
            escaped, name = match.group(1), match.group(2)
            if escaped:
                return "${" + name + "}"
            if not _NAME.fullmatch(name):
                self.doc.unusable.add(path)
                self.doc.problem(
                    path, f"'${{{name}}}' is not a variable reference (expected ${{NAME}}, or $${{ for a literal ${{)"
                )
                return ""
            names.append(name)
            if name not in self.environ:
                self.doc.unusable.add(path)
                self.doc.problem(path, f"${{{name}}} is not set (expected an environment variable {name})")
                return ""
            whole = match.group(0) == text.strip()
            value = self.environ.part(name) if isinstance(self.environ, StandIns) and not whole \
                else self.environ[name]
            # Short values are not worth hiding, and would garble ordinary words and numbers.
            if len(value) >= 4:
                self.doc.secrets[value] = name
            return value

        value = _VAR.sub(replace, text)
        if names:
            self.doc.env[path] = tuple(dict.fromkeys(names))
        return value
