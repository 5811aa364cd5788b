"""Compare two versions of the API and say, for each difference, who it breaks.

Both sides are what `codegen.loader.load_definitions` returns (schemas normalised, `$ref` resolved), plus
the public Python names that `codegen.build.build_api` gives them. Each difference is one `Change`:

- *wire*: an old client (or an old server) breaks on the wire: a method, argument or result field
  removed or renamed, a type changed, an argument made required, a constraint on arguments narrowed,
  a result field no longer always sent, a role removed, a method's idempotency lowered (old clients retry it).
- *code*: code written against the generated Python package breaks: a module, class, field, enum member,
  client method or keyword argument no longer exists under its old name. A name that disappears where
  the wire already breaks (e.g. a removed argument's keyword) is not reported twice.
- *safe*: old clients and servers keep working: methods, optional arguments and result fields added,
  constraints widened, docs, examples and `deprecated` changed.

Arguments are checked as a server reads them (old clients send values the old schema allowed, so the
new schema must accept them all); results as an old client reads them (old clients validate results with
the old schema, but ignore unknown fields and keep unknown enum values). Schema keywords this module does
not know are compared by equality and any change is reported as *wire*, to be reviewed and allow-listed.

Shared types (`_types.json`). The loader resolves each `$ref` inline, so a method's definition holds the
shared type wherever it uses it, marked with `"title": <Name>`. A change inside a shared type is reported
once per use, at the method file and the JSON pointer of that use (Get.json /result/properties/name for
Rollout.name used as Get's result), because what an old client sees depends on the use: the same enum
value removed from RolloutState is *wire* where an argument takes it and *safe* where a result sends it,
and the message names the call or field that breaks (client.rollout.set_state(state=), GetResult.name).
Each such line ends with where the change was made (`Change.origin`), e.g. (one line, wrapped here):

    wire: definitions/Rollout/Get.json: /result/properties/name: result field `name` removed: ...
      [in the shared type Rollout: definitions/Rollout/_types.json: /$defs/Rollout/properties/name]

The allow-list accepts such a change per use, by the method file and pointer, like any other change. A
change made beside the `$ref` (the use's doc, `nullable`, `default`, `deprecated`) belongs to that use and
names no shared type. A shared type that no method uses is not on the wire, so its changes are not reported.

The Python names of a shared type's class (Rollout, Rollout.name, RolloutState.PAUSED) are made once, so
they are placed in `_types.json` (/$defs/Rollout/properties/name); names made for one use stay in the
method file (GetResult = Rollout and its fields GetResult.name at Get.json /result/properties/name,
ListResultItem at List.json /result/items). A *code* change is reported where its name is placed, and
not at all when a *wire* change at a use comes from the same place in `_types.json`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from codegen.ir import ApiIR, EnumIR, MethodIR, ModelIR, ServiceIR
from codegen.loader import TYPES_FILE, LoadedMethod, LoadedService

Category = Literal["wire", "code", "safe"]
CATEGORIES: tuple[Category, ...] = ("wire", "code", "safe")

# Generated result enums keep values they do not know (open enums), so the server may add values.
# Set to False if clients ever reject unknown values again: an enum value added to a result is then *wire*.
OPEN_RESULT_ENUMS = True

_IN, _OUT = "args", "result"
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")
_DOC_KEYS = ("doc", "description", "title", "examples", "$comment")
_KNOWN_SCHEMA_KEYS = frozenset(
    {
        "type",
        "enum",
        "items",
        "properties",
        "required",
        "additionalProperties",
        "pattern",
        "format",
        "nullable",
        "default",
        "deprecated",
        *_LOWER_BOUNDS,
        *_UPPER_BOUNDS,
        *_DOC_KEYS,
    }
)
_KNOWN_METHOD_KEYS = frozenset(
    {
        "doc", "idempotency", "readonly", "roles", "scope", "args", "required_args", "result", "examples",
        "deprecated", "batch",
    }
)  # fmt: skip
# Idempotency levels, most repeatable first; lowering one is *wire*, raising one *safe*.
_IDEMPOTENCY_LEVELS = ("no_side_effects", "idempotent", "none")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Origin:
    """Where in `_types.json` a change reported at a use of a shared type was made."""

    type_name: str
    file: str
    pointer: str


@dataclass(frozen=True)
class Change:
    """One difference: where it is (file and JSON pointer in the new or, if gone, the old definitions) and what it
    does; for a change inside a shared type, `origin` says where in `_types.json` it was made."""

    category: Category
    file: str
    pointer: str
    message: str
    origin: Origin | None = None

    def line(self) -> str:
        text = f"{self.category}: {self.file}: {self.pointer or '/'}: {self.message}"
        if self.origin is not None:
            text += f" [in the shared type {self.origin.type_name}: {self.origin.file}: {self.origin.pointer}]"
        return text


@dataclass(frozen=True)
class PythonName:
    """A public name in the generated package, and the definition it comes from.

    `name` is unique: `rollout_api.rollout` (module), `rollout_api.rollout.models.GetResult` (class),
    `rollout_api.rollout.models.GetResult.name` (field), `...GetResultState.PAUSED` (enum member),
    `client.rollout.get` (client method), `client.rollout.get(projectid=)` (keyword argument).
    `parent` is the name it belongs to ("" for modules), so that a vanished class is reported once,
    not once per field.
    """

    name: str
    kind: str
    file: str
    pointer: str
    parent: str

    @property
    def short(self) -> str:
        """How messages show it: GetResult.name rather than rollout_api.rollout.models.GetResult.name."""
        if self.kind in ("field", "enum member"):
            return ".".join(self.name.split(".")[-2:])
        if self.kind == "class":
            return self.name.rsplit(".", 1)[-1]
        return self.name

    def to_json(self) -> list[str]:
        return [self.name, self.kind, self.file, self.pointer, self.parent]

    @classmethod
    def from_json(cls, data: Any) -> PythonName:
        if not (isinstance(data, list) and len(data) == 5 and all(isinstance(x, str) for x in data)):
            raise ValueError(f"expected [name, kind, file, pointer, parent], got {data!r}")
        return cls(*data)


@dataclass(frozen=True)
class ApiVersion:
    """One side of the comparison: the loaded definitions and the Python names generated from them."""

    services: tuple[LoadedService, ...]
    names: tuple[PythonName, ...]


# --- Python names -------------------------------------------------------------------------------------


def python_names(api: ApiIR) -> tuple[PythonName, ...]:
    """Every public name of the generated package that user code may use, each tied to the definition
    (file and JSON pointer) it comes from. Names are found by walking each method's schemas alongside
    the IR's models, so nested classes are placed at the schema node that makes them."""
    names: dict[str, PythonName] = {}
    for service in api.services:
        _ServiceNames(api.package, service, names).collect()
    return tuple(names.values())


class _ServiceNames:
    def __init__(self, package: str, service: ServiceIR, names: dict[str, PythonName]) -> None:
        self.service = service
        self.module = f"{package}.{service.module}"
        self.models_module = f"{self.module}.models"
        self.models: dict[str, ModelIR] = {m.name: m for m in service.models}
        self.enums: dict[str, EnumIR] = {e.name: e for e in service.enums}
        self.aliases = {a.name: a for a in service.aliases}
        self.shared: dict[str, Any] = service.shared_types
        self.types_file = f"{service.source}/{TYPES_FILE}"
        self.names = names
        self.placed: set[str] = set()

    def add(self, name: str, kind: str, file: str, pointer: str, parent: str) -> None:
        self.names.setdefault(name, PythonName(name, kind, file, pointer, parent))

    def collect(self) -> None:
        service = self.service
        self.add(self.module, "module", service.source, "", "")
        self.add(f"{self.module}.contract.{service.contract}", "class", service.source, "", self.module)
        for method in service.methods:
            self.method(method)
        # Anything the walk did not reach (e.g. a type only a later generator knows how to place).
        for name in (*self.models, *self.enums, *self.aliases):
            self.place(name, None, service.source, "")

    def method(self, method: MethodIR) -> None:
        client = f"client.{self.service.module}.{method.python_name}"
        self.add(client, "client method", method.source, "", self.module)
        for f in method.args:
            self.add(f"{client}({f.name}=)", "keyword argument", method.source, f"/args/{f.wire}", client)
        args = {"type": "object", "properties": method.definition["args"]}
        self.place(method.args_model, args, method.source, "/args", properties_pointer="/args")
        result = method.definition.get("result")
        if method.result_type is not None and result is not None:
            self.place(method.result_type, result, method.source, "/result")
            # ListResultItem = Rollout: the name the item class has for this method, made at its items.
            item = f"{method.result_type}Item"
            if item in self.aliases and isinstance(result.get("items"), Mapping):
                self.place(item, result["items"], method.source, "/result/items")

    def place(
        self,
        name: str,
        schema: Mapping[str, Any] | None,
        file: str,
        pointer: str,
        *,
        properties_pointer: str | None = None,
    ) -> None:
        """Record the class `name` made by the schema node at pointer, then its fields or members.
        A shared type's class is made once, by its definition in _types.json, so it is placed there."""
        if name in self.placed:
            return
        self.placed.add(name)
        if name in self.shared:
            schema, file, pointer = self.shared[name], self.types_file, f"/$defs/{_escape(name)}"
            properties_pointer = None
        qualified = f"{self.models_module}.{name}"
        schema = schema or {}
        self.add(qualified, "class", file, pointer, self.module)
        if name in self.enums:
            for member, _ in self.enums[name].members:
                self.add(f"{qualified}.{member}", "enum member", file, f"{pointer}/enum", qualified)
        elif name in self.models:
            properties = schema.get("properties") or {}
            inner = properties_pointer if properties_pointer is not None else f"{pointer}/properties"
            for f in self.models[name].fields:
                at = f"{inner}/{f.wire}"
                self.add(f"{qualified}.{f.name}", "field", file, at, qualified)
                self.types(f.annotation, properties.get(f.wire), file, at)
        elif name in self.aliases:
            target = self.aliases[name].annotation
            # An alias of one class (GetResult = Rollout) offers that class's fields under its own name too.
            if target in self.models:
                properties = schema.get("properties") or {}
                for f in self.models[target].fields:
                    at = f"{pointer}/properties/{f.wire}"
                    self.add(f"{qualified}.{f.name}", "field", file, at, qualified)
            elif target in self.enums:
                for member, _ in self.enums[target].members:
                    self.add(f"{qualified}.{member}", "enum member", file, f"{pointer}/enum", qualified)
            self.types(target, schema, file, pointer)

    def types(self, annotation: str, schema: Mapping[str, Any] | None, file: str, pointer: str) -> None:
        """Place the classes an annotation uses at the schema node that defines them (through items/maps)."""
        declared = [t for t in _IDENTIFIER.findall(annotation) if t in self.models or t in self.enums]
        if not declared:
            return
        node, at = schema, pointer
        while isinstance(node, Mapping) and not ("enum" in node or node.get("properties")):
            if isinstance(node.get("items"), Mapping):
                node, at = node["items"], f"{at}/items"
            elif isinstance(node.get("additionalProperties"), Mapping):
                node, at = node["additionalProperties"], f"{at}/additionalProperties"
            else:
                node = None
        for name in declared:
            self.place(name, node, file, at if node is not None else pointer)


# --- comparison ---------------------------------------------------------------------------------------


def compare(old: ApiVersion, new: ApiVersion) -> list[Change]:
    """Every difference between two versions of the API, wire and safe ones first, then code ones."""
    changes: list[Change] = []
    old_names = _names_by_location(old.names)
    new_services = {s.folder: s for s in new.services}
    old_services = {s.folder: s for s in old.services}
    gone_folders: list[str] = []
    for folder, before in old_services.items():
        after = new_services.get(folder)
        if after is None:
            gone_folders.append(before.source)
            for method in before.methods:
                changes.append(_method_removed(before, method))
            continue
        _compare_service(before, after, old_names, changes)
    for folder, after in new_services.items():
        if folder not in old_services:
            changes += [_method_added(after, m) for m in after.methods]
    changes += _code_changes(old.names, new.names, changes, gone_folders, _shared_uses(new.services))
    return changes


def _compare_service(
    before: LoadedService,
    after: LoadedService,
    old_names: Mapping[tuple[str, str], Sequence[PythonName]],
    changes: list[Change],
) -> None:
    service_file = f"{after.source}/_service.json"
    if before.wire_path != after.wire_path:
        changes.append(
            Change(
                "wire",
                service_file,
                "/name",
                f"service wire path changed from {before.wire_path} to {after.wire_path}: "
                f"every call of an old client answers 404 (No handler for {before.wire_path}.<Method>)",
            )
        )
    if before.doc != after.doc:
        changes.append(Change("safe", service_file, "/doc", "service doc changed"))
    old_methods = {m.name: m for m in before.methods}
    new_methods = {m.name: m for m in after.methods}
    for name, method in old_methods.items():
        if name not in new_methods:
            changes.append(_method_removed(before, method))
        else:
            _MethodComparison(method, new_methods[name], before, after, old_names, changes).run()
    changes += [_method_added(after, m) for name, m in new_methods.items() if name not in old_methods]


def _method_removed(service: LoadedService, method: LoadedMethod) -> Change:
    wire = f"{service.wire_path}.{method.name}"
    return Change(
        "wire", method.source, "", f"method {wire} removed: an old client's call answers 404 (No handler for {wire})"
    )


def _method_added(service: LoadedService, method: LoadedMethod) -> Change:
    wire = f"{service.wire_path}.{method.name}"
    return Change(
        "safe",
        method.source,
        "",
        f"new method {wire}: needs an implementation in the server (answers 501 until then)",
    )


class _MethodComparison:
    """The differences within one method file that exists on both sides."""

    def __init__(
        self,
        before: LoadedMethod,
        after: LoadedMethod,
        old_service: LoadedService,
        service: LoadedService,
        old_names: Mapping[tuple[str, str], Sequence[PythonName]],
        changes: list[Change],
    ) -> None:
        self.old = before.definition
        self.new = after.definition
        self.file = after.source
        self.wire_name = f"{service.wire_path}.{after.name}"
        self.old_names = old_names
        self.changes = changes
        self.old_types, self.new_types = old_service.types, service.types
        self.types_file = service.types_source
        # The shared types the schema being compared lies in, outermost first: (type name, pointer of the use).
        self.shared: list[tuple[str, str]] = []

    def add(self, category: Category, pointer: str, message: str, *, source: str | None = None) -> None:
        """Report a change at pointer; `source` is the pointer of the keyword whose change it is, when that is
        not the pointer itself (a type change at /result comes from /result/type)."""
        origin = self.origin(pointer, pointer if source is None else source)
        self.changes.append(Change(category, self.file, pointer, message, origin))

    def origin(self, pointer: str, source: str) -> Origin | None:
        """Where in _types.json the change was made, if it was made in a shared type: the innermost shared type
        around it whose own definition differs at that place. A change beside the $ref (the use's doc,
        nullable, default, deprecated) leaves the type as it was, so it belongs to the use."""
        for name, root in reversed(self.shared):
            if source != root and not source.startswith(root + "/"):
                continue
            rest = source[len(root) :]
            if _at(self.old_types.get(name), rest) != _at(self.new_types.get(name), rest):
                # pointer lies at or below root too: it is the property or node that source belongs to.
                return Origin(name, self.types_file, f"/$defs/{_escape(name)}{pointer[len(root) :]}")
        return None

    def python(self, pointer: str, *kinds: str) -> str | None:
        """The old Python name made at this pointer, of the first of these kinds that exists."""
        found = self.old_names.get((self.file, pointer), ())
        for kind in kinds:
            for name in found:
                if name.kind == kind:
                    return name.short
        return None

    def run(self) -> None:
        old, new = self.old, self.new
        if old.get("doc") != new.get("doc"):
            self.add("safe", "/doc", "doc changed")
        if old.get("examples") != new.get("examples"):
            self.add("safe", "/examples", "examples changed")
        self.deprecated(old, new, "")
        if bool(old.get("batch")) != bool(new.get("batch")):
            # How the server runs a run of such commands; each is answered as if it ran alone.
            self.add("safe", "/batch", f"batch {'on' if new.get('batch') else 'off'}: server side only")
        self.idempotency()
        self.roles()
        self.scope()
        self.properties(
            old["args"],
            new["args"],
            set(old.get("required_args", ())),
            set(new.get("required_args", ())),
            "/args",
            _IN,
            top_level=True,
        )
        self.result()
        for key in sorted((set(old) | set(new)) - _KNOWN_METHOD_KEYS):
            if old.get(key) != new.get(key):
                self.unknown(f"/{_escape(key)}", key, old.get(key), new.get(key))

    def idempotency(self) -> None:
        before, after = _idempotency(self.old), _idempotency(self.new)
        lowered = _IDEMPOTENCY_LEVELS.index(after) - _IDEMPOTENCY_LEVELS.index(before)
        if lowered > 0:
            consequence = (
                "old clients retry it after a connection failure, so a retry may apply it twice"
                if after == "none"
                else "it has side effects now, and old clients may call it as one that changes nothing"
            )
            self.add("wire", "/idempotency", f"idempotency lowered from {before} to {after}: {consequence}")
        elif lowered < 0:
            consequence = (
                "new clients retry it after a connection failure" if before == "none" else "it changes nothing now"
            )
            self.add("safe", "/idempotency", f"idempotency raised from {before} to {after}: {consequence}")

    def scope(self) -> None:
        """Who may reach which tenant's data: the effective scope (the loader merges the service's into each method)."""
        before: dict[str, str] | None = self.old.get("scope") or None
        after: dict[str, str] | None = self.new.get("scope") or None
        if before == after:
            return
        if after is None:
            self.add(
                "safe",
                "/scope",
                f"no longer scoped by {before['arg']!r} in the dispatcher (old clients keep working; the handler "
                "now decides who reaches what: review it)"
                if before
                else "scope changed",
            )
            return
        if before is None or before["arg"] != after["arg"]:
            self.add(
                "wire",
                "/scope",
                f"now scoped by {after['arg']!r}: an old client whose key may not reach the {after['arg']} it "
                f"names gets 404 ({after['notFound']!r})",
            )
            return
        self.add(
            "safe", "/scope/notFound", f"the 404 for an unreachable {after['arg']} now reads {after['notFound']!r}"
        )

    def roles(self) -> None:
        before: list[str] | None = self.old.get("roles")
        after: list[str] | None = self.new.get("roles")
        if before == after:
            return
        if before is None and after is not None:
            self.add(
                "wire",
                "/roles",
                f"only {', '.join(repr(r) for r in after)} may call it now: an old client with another role gets 403",
            )
            return
        if before is None or after is None:
            self.add("safe", "/roles", "every role may call it now")
            return
        for role in before:
            if role not in after:
                self.add(
                    "wire", "/roles", f"role {role!r} may no longer call it: an old client with that role gets 403"
                )
        for role in after:
            if role not in before:
                self.add("safe", "/roles", f"role {role!r} may call it now")

    def result(self) -> None:
        before, after = self.old.get("result"), self.new.get("result")
        if before is None and after is None:
            return
        if before is None:
            self.add("safe", "/result", "answers a result now: old clients ignore it")
        elif after is None:
            result_class = self.python("/result", "class") or "a result"
            self.add("wire", "/result", f"answers no result any more: an old client expects {result_class} and fails")
        else:
            self.schema(before, after, "/result", _OUT, optional_property=False)

    # --- objects --------------------------------------------------------------------------------------

    def properties(
        self,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        old_required: set[str],
        new_required: set[str],
        pointer: str,
        direction: str,
        *,
        top_level: bool = False,
    ) -> None:
        """Compare an object's properties (or a method's args, when top_level) in one direction."""
        what = "arg" if top_level else "field" if direction == _IN else "result field"
        removed = [name for name in before if name not in after]
        added = [name for name in after if name not in before]
        renamed = _renames(before, after, removed, added)
        for name in removed:
            at = f"{pointer}/{_escape(name)}"
            target = renamed.get(name)
            change = f"{what} `{name}` renamed to `{target}`" if target else f"{what} `{name}` removed"
            if direction == _IN:
                keyword = self.python(at, "keyword argument", "field")
                sent = f" ({keyword})" if keyword else ""
                self.add("wire", at, f"{change}: an old client that sends `{name}`{sent} gets 400 (unknown argument)")
            else:
                field = self.python(at, "field") or f"`{name}`"
                instead = f" (it sends `{target}` instead)" if target else ""
                if name in old_required:
                    sees = f"an old client fails to read the result: {field} is required and the server no longer sends `{name}`"
                else:
                    sees = f"an old client's {field} is always None: the server no longer sends `{name}`"
                self.add("wire", at, f"{change}: {sees}{instead}")
        for name in added:
            at = f"{pointer}/{_escape(name)}"
            if name in renamed.values():
                continue
            if direction == _OUT:
                self.add("safe", at, f"new {what} `{name}`: old clients ignore it")
            elif name in new_required:
                self.add("wire", at, f"new required {what} `{name}`: an old client does not send it and gets 400")
            else:
                self.add("safe", at, f"new optional {what} `{name}`: old clients leave it out")
        # An object's "required" list sits beside its properties; a method's required_args is not in a shared type.
        required = None if top_level else f"{pointer.removesuffix('/properties')}/required"
        for name in before:
            if name not in after:
                continue
            at = f"{pointer}/{_escape(name)}"
            was, now = name in old_required, name in new_required
            if direction == _IN and now and not was:
                self.add(
                    "wire",
                    at,
                    f"{what} `{name}` is now required: an old client that leaves it out gets 400",
                    source=required,
                )
            elif direction == _IN and was and not now:
                self.add("safe", at, f"{what} `{name}` is no longer required", source=required)
            elif direction == _OUT and was and not now:
                field = self.python(at, "field") or f"`{name}`"
                self.add(
                    "wire",
                    at,
                    f"{what} `{name}` is no longer always sent: an old client fails to read a result "
                    f"without it ({field} is required)",
                    source=required,
                )
            elif direction == _OUT and now and not was:
                self.add("safe", at, f"{what} `{name}` is now always sent", source=required)
            self.schema(_as_schema(before[name]), _as_schema(after[name]), at, direction, optional_property=not was)

    # --- one schema node ------------------------------------------------------------------------------

    def schema(
        self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str, direction: str, *, optional_property: bool
    ) -> None:
        """Compare one schema node; within a shared type used on both sides, changes name where they were made."""
        title = new.get("title")
        shared = title if isinstance(title, str) and old.get("title") == title else None
        if shared is not None:
            self.shared.append((shared, pointer))
        try:
            self.node(old, new, pointer, direction, optional_property=optional_property)
        finally:
            if shared is not None:
                self.shared.pop()

    def node(
        self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str, direction: str, *, optional_property: bool
    ) -> None:
        subject = self.python(pointer, "keyword argument", "field", "class")
        subject_text = f" ({subject})" if subject else ""
        before_type, after_type = old.get("type"), new.get("type")
        if before_type != after_type:
            widened = (direction == _IN and (before_type, after_type) == ("integer", "number")) or (
                direction == _OUT and (before_type, after_type) == ("number", "integer")
            )
            typed = f"{pointer}/type"
            if widened:
                self.add(
                    "safe",
                    pointer,
                    f"type changed from {before_type} to {after_type}: old values still fit",
                    source=typed,
                )
            elif direction == _IN:
                self.add(
                    "wire",
                    pointer,
                    f"type changed from {before_type} to {after_type}: an old client's {before_type} value{subject_text} gets 400",
                    source=typed,
                )
                return
            else:
                self.add(
                    "wire",
                    pointer,
                    f"type changed from {before_type} to {after_type}: an old client expects {before_type}"
                    f"{subject_text} and fails to read the result",
                    source=typed,
                )
                return
        for key in _DOC_KEYS:
            if old.get(key) != new.get(key):
                at = f"{pointer}/{key}"
                if key == "title":
                    # The loader marks a resolved shared type with its name: moving a schema into _types.json.
                    message = f"now the shared type {new.get(key)}" if new.get(key) else "inlined"
                    self.add("safe", pointer, message, source=at)
                else:
                    message = "doc changed" if key in ("doc", "description") else f"{key} changed"
                    self.add("safe", pointer, message, source=at)
        self.deprecated(old, new, pointer)
        self.enum(old.get("enum"), new.get("enum"), pointer, direction, subject_text)
        self.bounds(old, new, pointer, direction)
        for key in ("pattern", "format"):
            self.check_keyword(key, old.get(key), new.get(key), pointer, direction)
        self.nullable(old, new, pointer, direction, optional_property, subject_text)
        self.default(old, new, pointer, direction)
        self.items(old, new, pointer, direction)
        self.object(old, new, pointer, direction)
        self.map_values(old, new, pointer, direction)
        for key in sorted((set(old) | set(new)) - _KNOWN_SCHEMA_KEYS):
            if old.get(key) != new.get(key):
                self.unknown(f"{pointer}/{_escape(key)}", key, old.get(key), new.get(key))

    def deprecated(self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str) -> None:
        before, after = bool(old.get("deprecated")), bool(new.get("deprecated"))
        if after and not before:
            self.add("safe", f"{pointer}/deprecated", "deprecated: old clients keep working; new code gets a warning")
        elif before and not after:
            self.add("safe", f"{pointer}/deprecated", "no longer deprecated")

    def enum(self, before: Any, after: Any, pointer: str, direction: str, subject: str) -> None:
        at = f"{pointer}/enum"
        if before == after:
            return
        if before is None:
            values = ", ".join(repr(v) for v in after)
            if direction == _IN:
                self.add("wire", at, f"now limited to {values}: an old client's other values{subject} get 400")
            else:
                self.add("safe", at, f"the server now sends only {values}")
            return
        if after is None:
            if direction == _IN:
                self.add("safe", at, "enum removed: any value is accepted now")
            else:
                self.add(
                    "safe", at, "enum removed: the server may send other values; old clients keep the unknown value"
                )
            return
        for value in before:
            if value in after:
                continue
            if direction == _IN:
                self.add("wire", at, f"enum value {value!r} removed: an old client that sends it{subject} gets 400")
            else:
                self.add("safe", at, f"enum value {value!r} removed: the server no longer sends it")
        for value in after:
            if value in before:
                continue
            if direction == _IN:
                self.add("safe", at, f"enum value {value!r} added")
            elif OPEN_RESULT_ENUMS:
                self.add("safe", at, f"enum value {value!r} added: old clients keep the unknown value")
            else:
                self.add("wire", at, f"enum value {value!r} added: an old client{subject} fails to read it")

    def bounds(self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str, direction: str) -> None:
        """minimum/minLength/minItems and their upper counterparts: narrowing breaks what old clients send,
        widening breaks what old clients accept (generated result models check the limits too)."""
        for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
            before, after = old.get(key), new.get(key)
            if before == after:
                continue
            lower = key in _LOWER_BOUNDS
            if before is None:
                narrowed, verb = True, f"{key} {after} added"
            elif after is None:
                narrowed, verb = False, f"{key} {before} removed"
            else:
                raised = after > before
                narrowed = raised == lower
                verb = f"{key} {'raised' if raised else 'lowered'} from {before} to {after}"
            at = f"{pointer}/{key}"
            if direction == _IN and narrowed:
                self.add("wire", at, f"{verb}: an old client's values outside the new limit get 400")
            elif direction == _IN:
                self.add("safe", at, f"{verb}: the limit is wider")
            elif narrowed:
                self.add("safe", at, f"{verb}: the server sends values within a narrower limit")
            else:
                limit = f"{key} {before}" if before is not None else key
                self.add("wire", at, f"{verb}: an old client rejects values outside its limit ({limit})")

    def check_keyword(self, key: str, before: Any, after: Any, pointer: str, direction: str) -> None:
        """pattern and format: a value check added or changed breaks senders, removed or changed breaks readers."""
        if before == after:
            return
        at = f"{pointer}/{key}"
        if before is None:
            verb = f"{key} {after!r} added"
        elif after is None:
            verb = f"{key} {before!r} removed"
        else:
            verb = f"{key} changed from {before!r} to {after!r}"
        if direction == _IN and after is not None:
            self.add("wire", at, f"{verb}: an old client's values that do not match get 400")
        elif direction == _IN:
            self.add("safe", at, f"{verb}: any value is accepted now")
        elif before is not None:
            self.add("wire", at, f"{verb}: an old client rejects values that do not match {before!r}")
        else:
            self.add("safe", at, f"{verb}: the server sends values that match it")

    def nullable(
        self,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        pointer: str,
        direction: str,
        optional_property: bool,
        subject: str,
    ) -> None:
        before, after = bool(old.get("nullable")), bool(new.get("nullable"))
        at = f"{pointer}/nullable"
        if before == after:
            return
        if direction == _IN:
            if before:
                self.add("wire", at, f"no longer nullable: an old client that sends null{subject} gets 400")
            else:
                self.add("safe", at, "nullable: null is accepted now")
        elif not after:
            self.add("safe", at, "no longer nullable: the server never sends null")
        elif optional_property:
            self.add("safe", at, "may be null now: old clients read null as None, as when it is left out")
        else:
            self.add("wire", at, f"may be null now: an old client{subject} cannot hold None and fails to read it")

    def default(self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str, direction: str) -> None:
        if old.get("default") == new.get("default"):
            return
        at = f"{pointer}/default"
        if "default" not in old:
            self.add("safe", at, f"default {new['default']!r} added")
            return
        was = old["default"]
        verb = f"default changed from {was!r} to {new['default']!r}" if "default" in new else f"default {was!r} removed"
        if direction == _IN:
            self.add("wire", at, f"{verb}: an old client that leaves it out no longer gets {was!r}")
        else:
            self.add("wire", at, f"{verb}: an old client fills in {was!r} where the server leaves it out")

    def items(self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str, direction: str) -> None:
        before, after = old.get("items"), new.get("items")
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            self.schema(before, after, f"{pointer}/items", direction, optional_property=False)
        elif before != after:
            self.unknown(f"{pointer}/items", "items", before, after)

    def object(self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str, direction: str) -> None:
        before, after = old.get("properties") or {}, new.get("properties") or {}
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        if before == after and old_required == new_required:
            return
        at = f"{pointer}/properties"
        if not before and after:
            if direction == _IN:
                message = "only the declared fields are accepted now: an old client's other keys get 400"
                self.add("wire", pointer, message, source=at)
            else:
                self.add("code", pointer, "now a model class, no longer a dict: code that indexes it breaks", source=at)
            return
        if before and not after and direction == _IN:
            self.add("safe", pointer, "any fields are accepted now", source=at)
            return
        self.properties(before, after, old_required, new_required, f"{pointer}/properties", direction)

    def map_values(self, old: Mapping[str, Any], new: Mapping[str, Any], pointer: str, direction: str) -> None:
        before, after = old.get("additionalProperties"), new.get("additionalProperties")
        at = f"{pointer}/additionalProperties"
        if before == after:
            return
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            self.schema(before, after, at, direction, optional_property=False)
        elif before is None and isinstance(after, Mapping):
            if direction == _IN:
                self.add("wire", at, "map values are checked now: an old client's other values get 400")
            else:
                self.add("safe", at, "map values follow a schema now")
        elif isinstance(before, Mapping) and after is None:
            if direction == _IN:
                self.add("safe", at, "map values are no longer checked")
            else:
                self.add(
                    "wire", at, "map values are no longer limited: an old client rejects values outside its schema"
                )
        else:
            self.unknown(at, "additionalProperties", before, after)

    def unknown(self, pointer: str, key: str, before: Any, after: Any) -> None:
        self.add(
            "wire",
            pointer,
            f"`{key}` changed from {_short(before)} to {_short(after)}: this check does not know the keyword, "
            "so it cannot tell what old clients see; review it (allow-list it if it is safe)",
        )


def _as_schema(schema: Any) -> Mapping[str, Any]:
    return {"type": schema} if isinstance(schema, str) else schema if isinstance(schema, Mapping) else {}


def _renames(
    before: Mapping[str, Any], after: Mapping[str, Any], removed: Sequence[str], added: Sequence[str]
) -> dict[str, str]:
    """old name -> new name, where exactly one removed and one added property have the same schema (docs aside)."""
    shapes_before = {name: _without_docs(before[name]) for name in removed}
    shapes_after = {name: _without_docs(after[name]) for name in added}
    pairs: dict[str, str] = {}
    for old_name, shape in shapes_before.items():
        matches = [n for n, s in shapes_after.items() if s == shape]
        claimed_by = [o for o, s in shapes_before.items() if s == shape]
        if len(matches) == 1 and len(claimed_by) == 1:
            pairs[old_name] = matches[0]
    return pairs


def _without_docs(schema: Any) -> Any:
    if isinstance(schema, str):
        return {"type": schema}
    if isinstance(schema, Mapping):
        return {k: _without_docs(v) for k, v in schema.items() if k not in (*_DOC_KEYS, "deprecated")}
    if isinstance(schema, list):
        return [_without_docs(v) for v in schema]
    return schema


def _idempotency(definition: Mapping[str, Any]) -> str:
    """The method's idempotency level; a definition from before the key existed said `"readonly": true`
    for what is now no_side_effects, and nothing for none."""
    if "idempotency" in definition:
        return str(definition["idempotency"])
    return "no_side_effects" if definition.get("readonly") else "none"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


_MISSING = object()


def _at(schema: Any, pointer: str) -> Any:
    """The value at a JSON pointer within a schema, or _MISSING."""
    if schema is None:
        return _MISSING
    node = schema
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return _MISSING
    return node


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- code changes -------------------------------------------------------------------------------------

_CODE_EFFECT = {
    "module": "code that imports it fails",
    "class": "code that imports it fails",
    "field": "code that reads it fails with AttributeError",
    "enum member": "code that uses it fails with AttributeError",
    "client method": "code that calls it fails with AttributeError",
    "keyword argument": "calls that pass it fail with TypeError",
}


def _names_by_location(names: Iterable[PythonName]) -> dict[tuple[str, str], list[PythonName]]:
    index: dict[tuple[str, str], list[PythonName]] = {}
    for name in names:
        index.setdefault((name.file, name.pointer), []).append(name)
    return index


def _shared_uses(services: Iterable[LoadedService]) -> dict[tuple[str, str], tuple[str, str]]:
    """(method file, pointer) -> (_types.json, pointer) for every schema node that is, or lies in, a shared type:
    the class made there for a use is the shared type's class, placed in _types.json."""
    uses: dict[tuple[str, str], tuple[str, str]] = {}

    def walk(schema: Any, file: str, pointer: str, types_file: str, origin: str | None) -> None:
        if not isinstance(schema, Mapping):
            return
        if isinstance(schema.get("title"), str):
            origin = f"/$defs/{_escape(schema['title'])}"
        if origin is not None:
            uses[(file, pointer)] = (types_file, origin)
            if "enum" in schema:
                uses[(file, f"{pointer}/enum")] = (types_file, f"{origin}/enum")
        for name, value in (schema.get("properties") or {}).items():
            inner = None if origin is None else f"{origin}/properties/{_escape(name)}"
            walk(value, file, f"{pointer}/properties/{_escape(name)}", types_file, inner)
        for key in ("items", "additionalProperties"):
            inner = None if origin is None else f"{origin}/{key}"
            walk(schema.get(key), file, f"{pointer}/{key}", types_file, inner)

    for service in services:
        for method in service.methods:
            for name, arg in method.definition["args"].items():
                walk(arg, method.source, f"/args/{_escape(name)}", service.types_source, None)
            walk(method.definition.get("result"), method.source, "/result", service.types_source, None)
    return uses


def _code_changes(
    old: Sequence[PythonName],
    new: Sequence[PythonName],
    changes: Sequence[Change],
    gone_folders: Sequence[str],
    shared_uses: Mapping[tuple[str, str], tuple[str, str]],
) -> list[Change]:
    """Old names that no longer exist, except where a wire change at or above them (or at the place in
    _types.json it comes from) already says so, and except the members of a name that is itself reported
    (a renamed class, not each of its fields). A successor is a new name of the same kind at the old name's
    place or, if there is none, at the shared type the new definitions use there (GetResultState -> RolloutState)."""
    old_by_name, new_by_name = {n.name for n in old}, {n.name for n in new}
    gone = {n.name: n for n in old if n.name not in new_by_name}
    appeared = _names_by_location(n for n in new if n.name not in old_by_name)
    present = _names_by_location(new)
    wire = [c for c in changes if c.category == "wire"]
    breaks = [(c.file, c.pointer) for c in wire] + [(f, "") for f in gone_folders]
    breaks += [(c.origin.file, c.origin.pointer) for c in wire if c.origin is not None]
    out = []
    for name in gone.values():
        if name.parent in gone or any(_within(name, file, pointer) for file, pointer in breaks):
            continue
        successors = [n for n in appeared.get((name.file, name.pointer), ()) if n.kind == name.kind]
        if not successors and (name.file, name.pointer) in shared_uses:
            # What the use makes now is the shared type's class, whether or not other uses made it before.
            successors = [n for n in present.get(shared_uses[(name.file, name.pointer)], ()) if n.kind == name.kind]
        what = f"{name.kind} {name.name}"
        if len(successors) == 1:
            message = f"{what} is now {successors[0].name}: {_CODE_EFFECT[name.kind]} under the old name"
        else:
            message = f"{what} no longer exists: {_CODE_EFFECT.get(name.kind, 'code that uses it fails')}"
        out.append(Change("code", name.file, name.pointer, message))
    return out


def _within(name: PythonName, file: str, pointer: str) -> bool:
    if name.file != file and not (pointer == "" and name.file.startswith(file + "/")):
        return False
    return pointer == "" or name.pointer == pointer or name.pointer.startswith(pointer + "/")
