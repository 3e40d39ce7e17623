"""Compile a workflow document into an ExecutionPlan, or explain why not.

``compile_workflow`` never raises on bad input: it returns every diagnostic it can find (each
with a stable code, a JSON-pointer path and, where one exists, a suggestion) and a plan only when
there is no error.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from hub.errors import ExpressionError, WorkflowInvalid
from hub.expressions import compile_value, iter_templates, parse_template
from hub.inputs import input_schema
from hub.model import (
    EdgeSpec,
    InputSpec,
    NodeSpec,
    OnError,
    WorkflowDocument,
    WorkflowSettings,
)
from hub.nodes import NodeRegistry, NodeType, default_registry
from hub.nodes._foreach import FOREACH_TYPE, ITEM_ROOTS, NOT_PER_ITEM, item_type_name
from hub.plan import ERROR_PORT, SUCCESS_PORT, ExecutionPlan, PlanEdge, PlanNode
from hub.triggers import TRIGGER_TYPES, TriggerSpec, trigger_model

EXECUTION_FIELDS = ("id", "workflow_id", "workflow_version", "started_at", "attempt")
BUILTIN_ROOTS = frozenset({"input", "execution", "env", "credential"})


@dataclass(frozen=True)
class Diagnostic:
    severity: Literal["error", "warning"]
    code: str
    message: str
    path: str
    suggestion: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CompileResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    plan: ExecutionPlan | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def raise_for_errors(self) -> ExecutionPlan:
        if self.plan is None:
            first = self.errors[0] if self.errors else None
            where = f" at {first.path}" if first and first.path else ""
            summary = f"{first.message}{where}" if first else "workflow is invalid"
            more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            raise WorkflowInvalid(
                f"workflow is invalid: {summary}{more}",
                diagnostics=[d.to_dict() for d in self.diagnostics],
            )
        return self.plan


def _closest(name: str, options: list[str] | set[str]) -> str | None:
    found = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.6)
    return found[0] if found else None


def literal_violated(pointer: str, literal: tuple[str, ...]) -> str | None:
    """The literal parameter (a pointer pattern, "*" any one part) that an expression at
    ``pointer`` decides: the parameter itself, a part of it, or a value holding it."""
    parts = pointer.split("/")
    for pattern in literal:
        wanted = pattern.split("/")
        shared = min(len(parts), len(wanted))
        if all(w in ("*", p) for p, w in zip(parts[:shared], wanted[:shared], strict=True)):
            return pattern
    return None


def _pointer(*parts: object) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class _Compiler:
    def __init__(self, doc: Any, registry: NodeRegistry) -> None:
        self.raw = doc
        self.registry = registry
        self.diags: list[Diagnostic] = []
        self.invalid_node_ids: set[str] = set()
        self.item_types: dict[str, NodeType] = {}  # foreach node id -> what runs per item

    def error(self, code: str, message: str, path: str, suggestion: str | None = None) -> None:
        self.diags.append(Diagnostic("error", code, message, path, suggestion))

    def warning(self, code: str, message: str, path: str, suggestion: str | None = None) -> None:
        self.diags.append(Diagnostic("warning", code, message, path, suggestion))

    def model_errors(self, exc: ValidationError, base: str, model: type[BaseModel]) -> None:
        """Report pydantic errors as ``invalid_document`` diagnostics at their paths."""
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            path = base + _pointer(*loc)
            if err["type"] == "extra_forbidden":
                key = str(loc[-1])
                known = [f.alias or n for n, f in model.model_fields.items()]
                close = _closest(key, known)
                hint = f"; did you mean {close!r}?" if close else ""
                self.error("invalid_document", f"unknown key {key!r}{hint}", path, close)
            elif err["type"] == "missing":
                self.error("invalid_document", f"{loc[-1]!r} is required", path)
            else:
                msg = err["msg"].removeprefix("Value error, ")
                self.error("invalid_document", msg, path)

    # --- document parts ---------------------------------------------------------------------

    def compile(self) -> CompileResult:
        if not isinstance(self.raw, dict):
            self.error("invalid_document", "a workflow must be a JSON object", "")
            return CompileResult(self.diags)
        try:
            doc: WorkflowDocument | None = WorkflowDocument.model_validate(self.raw)
        except ValidationError as exc:
            self.model_errors(exc, "", WorkflowDocument)
            doc = None
        raw_nodes = self.raw.get("nodes")
        raw_edges = self.raw.get("edges", [])
        if isinstance(raw_nodes, list) and not raw_nodes:
            self.error("invalid_document", "a workflow needs at least one node", "/nodes")
        inputs = self.inputs(self.raw.get("inputs", {}))
        settings = self.settings(self.raw.get("settings", {}))
        nodes = self.nodes(raw_nodes if isinstance(raw_nodes, list) else [])
        edges = self.edges(raw_edges if isinstance(raw_edges, list) else [], nodes, settings)
        order = self.topological_order(nodes, edges)
        ancestors = self.ancestors(nodes, edges) if order is not None else {}
        compiled = self.parameters(nodes, inputs, ancestors)
        triggers = self.triggers(self.raw.get("triggers", []), inputs)
        if order is not None:
            self.unreachable(nodes, edges, settings)
        if doc is None or self.errors_found() or order is None or inputs is None:
            return CompileResult(self.diags)
        plan = self.plan(doc, inputs, settings, nodes, edges, compiled)
        return CompileResult(self.diags, dataclasses.replace(plan, triggers=triggers))

    def errors_found(self) -> bool:
        return any(d.severity == "error" for d in self.diags)

    def inputs(self, raw: Any) -> dict[str, InputSpec] | None:
        if not isinstance(raw, dict):
            return None  # reported by the document model
        specs: dict[str, InputSpec] = {}
        for name, spec in raw.items():
            try:
                specs[name] = InputSpec.model_validate(spec)
            except ValidationError as exc:
                self.model_errors(exc, _pointer("inputs", name), InputSpec)
        return specs

    def settings(self, raw: Any) -> WorkflowSettings:
        try:
            return WorkflowSettings.model_validate(raw if isinstance(raw, dict) else {})
        except ValidationError as exc:
            self.model_errors(exc, "/settings", WorkflowSettings)
            return WorkflowSettings()

    def nodes(self, raw_nodes: list[Any]) -> dict[str, tuple[int, NodeSpec, NodeType | None]]:
        nodes: dict[str, tuple[int, NodeSpec, NodeType | None]] = {}
        for i, raw in enumerate(raw_nodes):
            base = _pointer("nodes", i)
            try:
                spec = NodeSpec.model_validate(raw)
            except ValidationError as exc:
                self.model_errors(exc, base, NodeSpec)
                if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                    self.invalid_node_ids.add(raw["id"])
                continue
            if spec.id in nodes:
                first = nodes[spec.id][0]
                self.error(
                    "duplicate_node_id",
                    f"node id {spec.id!r} is already used by /nodes/{first}",
                    base + "/id",
                )
                continue
            node_type = self.node_type(spec, base)
            nodes[spec.id] = (i, spec, node_type)
        return nodes

    def node_type(self, spec: NodeSpec, base: str) -> NodeType | None:
        if spec.type not in self.registry:
            close = self.registry.closest(spec.type)
            hint = f"; did you mean {close!r}?" if close else ""
            self.error(
                "unknown_node_type", f"unknown node type {spec.type!r}{hint}", base + "/type", close
            )
            return None
        node_type = self.registry.get(spec.type)
        self.static_parameters(node_type, spec, base)
        if node_type.name == FOREACH_TYPE:
            self.item_node(spec, base)
        return node_type

    def item_node(self, spec: NodeSpec, base: str) -> None:
        """A foreach's per-item node: a known type that means something per item, with
        parameters valid where no expression decides them."""
        raw = spec.parameters
        node = raw.get("node")
        kind = node.get("type") if isinstance(node, dict) else None
        where = base + "/parameters/node"
        if isinstance(kind, str) and "{{" in kind:
            self.error(
                "expression_not_allowed",
                "foreach node.type must be written out, not an expression: the runtime checks "
                "and places the item node before the step runs",
                where + "/type",
            )
            return
        name = item_type_name(raw)
        if name is None:
            return  # no item node at all: the parameters model said so
        if name not in self.registry:
            close = self.registry.closest(name)
            hint = f"; did you mean {close!r}?" if close else ""
            self.error(
                "unknown_node_type", f"unknown node type {name!r}{hint}", where + "/type", close
            )
            return
        if name in NOT_PER_ITEM:
            self.error(
                "bad_parameters",
                f"a foreach cannot run a {name} node per item (its ports or branches mean "
                "nothing per item); run a sub-workflow per item with 'workflow_id' instead",
                where + "/type",
            )
            return
        item_type = self.registry.get(name)
        self.item_types[spec.id] = item_type
        if isinstance(node, dict) and isinstance(node.get("parameters"), dict):
            inner = NodeSpec.model_construct(id=spec.id, type=name, parameters=node["parameters"])
            self.static_parameters(item_type, inner, where)

    def static_parameters(self, node_type: NodeType, spec: NodeSpec, base: str) -> None:
        """Validate parameters now, except the parts whose value an expression decides."""
        templated = {pointer for pointer, _ in iter_templates(spec.parameters)}
        for pointer in sorted(templated):
            literal = literal_violated(pointer, node_type.literal)
            if literal is not None:
                name = literal.strip("/").replace("/*/", "[].").replace("/", ".")
                self.error(
                    "expression_not_allowed",
                    f"{spec.type} node parameter {name!r} must be literal text, not an "
                    "expression: pass values in 'params' and name them in the text "
                    "(:name), so a value can never change the statement",
                    base + "/parameters" + pointer,
                )
        try:
            node_type.parameters.model_validate(spec.parameters)
        except ValidationError as exc:
            for err in exc.errors():
                loc = _pointer(*err["loc"])
                if any(loc == t or loc.startswith(t + "/") for t in templated):
                    continue
                if err["type"] == "extra_forbidden":
                    known = list(node_type.parameters.model_fields)
                    known += [
                        f.alias for f in node_type.parameters.model_fields.values() if f.alias
                    ]
                    key = str(err["loc"][-1])
                    close = _closest(key, known)
                    hint = f"; did you mean {close!r}?" if close else ""
                    message = f"{spec.type} node has no parameter {key!r}{hint}"
                    self.error("bad_parameters", message, base + "/parameters" + loc, close)
                else:
                    what = f"parameter {'.'.join(map(str, err['loc']))!r}" if err["loc"] else ""
                    msg = err["msg"].removeprefix("Value error, ")
                    message = f"{spec.type} node {what}: {msg}".replace("  ", " ")
                    self.error("bad_parameters", message, base + "/parameters" + loc)

    def edges(
        self,
        raw_edges: list[Any],
        nodes: dict[str, tuple[int, NodeSpec, NodeType | None]],
        settings: WorkflowSettings,
    ) -> list[tuple[int, PlanEdge]]:
        edges: list[tuple[int, PlanEdge]] = []
        seen: set[tuple[str, str, str]] = set()
        for i, raw in enumerate(raw_edges):
            base = _pointer("edges", i)
            try:
                spec = EdgeSpec.model_validate(raw)
            except ValidationError as exc:
                self.model_errors(exc, base, EdgeSpec)
                continue
            ok = True
            for end, key in ((spec.source, "from"), (spec.target, "to")):
                if end in self.invalid_node_ids:
                    ok = False  # that node's own diagnostic says what is wrong
                elif end not in nodes:
                    close = _closest(end, list(nodes))
                    hint = f"; did you mean {close!r}?" if close else ""
                    self.error(
                        "unknown_edge_endpoint",
                        f"edge {key!r} names unknown node {end!r}{hint}",
                        f"{base}/{key}",
                        close,
                    )
                    ok = False
            if not ok:
                continue
            port = spec.when or SUCCESS_PORT
            if not self.port_ok(spec, port, nodes[spec.source], settings, base):
                continue
            if (spec.source, spec.target, port) in seen:
                self.warning("bad_port", "duplicate edge (same from, to and when)", base)
                continue
            seen.add((spec.source, spec.target, port))
            edges.append((i, PlanEdge(spec.source, spec.target, port)))
        return edges

    def port_ok(
        self,
        spec: EdgeSpec,
        port: str,
        source: tuple[int, NodeSpec, NodeType | None],
        settings: WorkflowSettings,
        base: str,
    ) -> bool:
        _, node, node_type = source
        if port in (SUCCESS_PORT, ERROR_PORT) or node_type is None:
            if port == ERROR_PORT and (node.on_error or settings.on_error) != OnError.BRANCH:
                self.warning(
                    "bad_port",
                    f"error edge from {node.id!r} is never taken: its on_error is not 'branch'",
                    base + "/when",
                    "branch",
                )
            return True
        offered = node_type.offered_ports(node.parameters)
        if offered is not None and port not in offered:
            options = sorted(offered | {ERROR_PORT})
            close = _closest(port, options)
            listing = ", ".join(repr(p) for p in options)
            self.error(
                "bad_port",
                f"{node.type} node {node.id!r} has no port {port!r} (ports: {listing})",
                base + "/when",
                close,
            )
            return False
        return True

    # --- graph ------------------------------------------------------------------------------

    def topological_order(
        self, nodes: dict[str, Any], edges: list[tuple[int, PlanEdge]]
    ) -> list[str] | None:
        indegree = dict.fromkeys(nodes, 0)
        children: dict[str, list[str]] = {n: [] for n in nodes}
        for _, e in edges:
            indegree[e.target] += 1
            children[e.source].append(e.target)
        queue = deque(n for n, d in indegree.items() if d == 0)
        order: list[str] = []
        while queue:
            n = queue.popleft()
            order.append(n)
            for c in children[n]:
                indegree[c] -= 1
                if indegree[c] == 0:
                    queue.append(c)
        if len(order) == len(nodes):
            return order
        parents: dict[str, list[str]] = {n: [] for n in nodes}
        for _, e in edges:
            parents[e.target].append(e.source)
        cycle = self.find_cycle({n for n, d in indegree.items() if d > 0}, parents)
        first_edge = next(
            (i for i, e in edges if e.source == cycle[0] and e.target == cycle[1 % len(cycle)]), 0
        )
        self.error(
            "cycle",
            "the graph has a cycle: " + " -> ".join([*cycle, cycle[0]]),
            _pointer("edges", first_edge),
        )
        return None

    @staticmethod
    def find_cycle(remaining: set[str], parents: dict[str, list[str]]) -> list[str]:
        # Every node Kahn's algorithm could not order has a parent it could not order either, so
        # walking up through such parents must revisit a node: that loop is a cycle.
        node = min(remaining)
        path: list[str] = []
        seen: dict[str, int] = {}
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = min(p for p in parents[node] if p in remaining)
        cycle = list(reversed(path[seen[node] :]))
        start = cycle.index(min(cycle))  # a stable message: the cycle from its smallest id
        return cycle[start:] + cycle[:start]

    @staticmethod
    def ancestors(
        nodes: dict[str, Any], edges: list[tuple[int, PlanEdge]]
    ) -> dict[str, frozenset[str]]:
        parents: dict[str, set[str]] = {n: set() for n in nodes}
        for _, e in edges:
            parents[e.target].add(e.source)
        memo: dict[str, frozenset[str]] = {}

        def visit(n: str) -> frozenset[str]:
            if n not in memo:
                acc: set[str] = set()
                stack = list(parents[n])
                while stack:
                    p = stack.pop()
                    if p not in acc:
                        acc.add(p)
                        stack.extend(parents[p])
                memo[n] = frozenset(acc)
            return memo[n]

        return {n: visit(n) for n in nodes}

    def unreachable(
        self,
        nodes: dict[str, tuple[int, NodeSpec, NodeType | None]],
        edges: list[tuple[int, PlanEdge]],
        settings: WorkflowSettings,
    ) -> None:
        """Warn about nodes that can never run: only reachable through error edges whose source
        does not branch on errors."""

        def live(e: PlanEdge) -> bool:
            spec = nodes[e.source][1]
            return e.port != ERROR_PORT or (spec.on_error or settings.on_error) == OnError.BRANCH

        incoming: dict[str, list[PlanEdge]] = {n: [] for n in nodes}
        for _, e in edges:
            incoming[e.target].append(e)
        reachable = {n for n, inc in incoming.items() if not inc}
        changed = True
        while changed:
            changed = False
            for n, inc in incoming.items():
                if n not in reachable and any(e.source in reachable and live(e) for e in inc):
                    reachable.add(n)
                    changed = True
        for n in nodes:
            if n not in reachable:
                self.warning(
                    "unreachable_node",
                    f"node {n!r} can never run: no path reaches it",
                    _pointer("nodes", nodes[n][0]),
                )

    def triggers(self, raw: Any, inputs: dict[str, InputSpec] | None) -> tuple[TriggerSpec, ...]:
        if not isinstance(raw, list):
            return ()  # reported by the document model
        specs: list[TriggerSpec] = []
        seen: set[str] = set()
        for i, item in enumerate(raw):
            base = _pointer("triggers", i)
            model = trigger_model(item)
            if model is None:
                kind = item.get("type") if isinstance(item, dict) else None
                where = base + "/type" if isinstance(item, dict) else base
                close = _closest(kind, list(TRIGGER_TYPES)) if isinstance(kind, str) else None
                hint = f"; did you mean {close!r}?" if close else ""
                what = f"unknown trigger type {kind!r}{hint}" if kind else "'type' is required"
                self.error(
                    "invalid_document", f"{what} (types: {', '.join(TRIGGER_TYPES)})", where, close
                )
                continue
            try:
                spec = model.model_validate(item)
            except ValidationError as exc:
                self.model_errors(exc, base, model)
                continue
            if spec.id in seen:
                self.error(
                    "invalid_document", f"trigger id {spec.id!r} is used twice", base + "/id"
                )
            seen.add(spec.id)
            self.trigger_inputs(spec.inputs, inputs, base + "/inputs")
            specs.append(spec)  # type: ignore[arg-type]
        return tuple(specs)

    def trigger_inputs(
        self, mapped: dict[str, Any] | None, inputs: dict[str, InputSpec] | None, base: str
    ) -> None:
        """A trigger's ``inputs`` name declared inputs, and their expressions read ``$trigger``."""
        for name in mapped or {}:
            if inputs is not None and name not in inputs:
                close = _closest(name, list(inputs))
                hint = f"; did you mean {close!r}?" if close else ""
                declared = ", ".join(sorted(inputs)) or "none"
                self.error(
                    "bad_reference",
                    f"{name!r} is not a declared input{hint} (declared: {declared})",
                    base + _pointer(name),
                    close,
                )
        for pointer, text in iter_templates(mapped or {}):
            try:
                template = parse_template(text)
            except ExpressionError as exc:
                self.error("expression_syntax", exc.message, base + pointer)
                continue
            for ref in template.references:
                if ref[0] != "trigger":
                    self.error(
                        "bad_reference",
                        f"a trigger's inputs can read only $trigger (what it received), not "
                        f"${ref[0]}",
                        base + pointer,
                    )

    # --- expressions ------------------------------------------------------------------------

    def parameters(
        self,
        nodes: dict[str, tuple[int, NodeSpec, NodeType | None]],
        inputs: dict[str, InputSpec] | None,
        ancestors: dict[str, frozenset[str]],
    ) -> dict[str, Any]:
        compiled: dict[str, Any] = {}
        for nid, (i, spec, node_type) in nodes.items():
            base = _pointer("nodes", i, "parameters")
            broken = False
            deferred = node_type.deferred if node_type is not None else ()
            for pointer, text in iter_templates(spec.parameters):
                try:
                    template = parse_template(text)
                except ExpressionError as exc:
                    self.error("expression_syntax", exc.message, base + pointer)
                    broken = True
                    continue
                per_item = any(pointer == d or pointer.startswith(d + "/") for d in deferred)
                for ref in template.references:
                    if ref[0] in ITEM_ROOTS and not per_item:
                        self.error(
                            "bad_reference",
                            f"${ref[0]} exists only inside a foreach node's node.parameters or "
                            "inputs, which are rendered once per item",
                            base + pointer,
                        )
                    elif ref[0] not in ITEM_ROOTS:
                        self.reference(nid, ref, base + pointer, nodes, inputs, ancestors)
            if not broken:
                try:
                    compiled[nid] = compile_value(spec.parameters, deferred)
                except ExpressionError as exc:
                    self.error("expression_syntax", exc.message, base + (exc.path or ""))
        return compiled

    def reference(
        self,
        nid: str,
        ref: tuple[str, ...],
        path: str,
        nodes: dict[str, Any],
        inputs: dict[str, InputSpec] | None,
        ancestors: dict[str, frozenset[str]],
    ) -> None:
        root = ref[0]
        if root == "input":
            if inputs is not None and len(ref) > 1 and ref[1] not in inputs:
                close = _closest(ref[1], list(inputs))
                hint = f"; did you mean {close!r}?" if close else ""
                declared = ", ".join(sorted(inputs)) or "none"
                self.error(
                    "bad_reference",
                    f"$input.{ref[1]} is not a declared input{hint} (declared: {declared})",
                    path,
                    close,
                )
        elif root == "execution":
            if len(ref) > 1 and ref[1] not in EXECUTION_FIELDS:
                close = _closest(ref[1], list(EXECUTION_FIELDS))
                self.error(
                    "bad_reference",
                    f"$execution has no field {ref[1]!r} (fields: {', '.join(EXECUTION_FIELDS)})",
                    path,
                    close,
                )
        elif root == "credential":
            if len(ref) < 2:
                self.error(
                    "bad_reference",
                    "$credential must name the credential it reads: $credential.api_key or "
                    "$credential['my-key'] (a computed name is not allowed: the runtime opens the "
                    "credentials a step refers to before it starts)",
                    path,
                )
        elif root in BUILTIN_ROOTS:
            return
        elif root not in nodes:
            close = _closest(root, [*nodes, *BUILTIN_ROOTS])
            hint = f"; did you mean '${close}'?" if close else ""
            self.error("bad_reference", f"${root} names no node{hint}", path, close)
        elif root == nid or (ancestors and root not in ancestors.get(nid, frozenset())):
            what = "itself" if root == nid else f"${root}, which is not upstream of it"
            self.error(
                "not_upstream",
                f"node {nid!r} refers to {what}; only upstream outputs exist when it runs",
                path,
            )

    # --- plan -------------------------------------------------------------------------------

    def plan(
        self,
        doc: WorkflowDocument,
        inputs: dict[str, InputSpec],
        settings: WorkflowSettings,
        nodes: dict[str, tuple[int, NodeSpec, NodeType | None]],
        edges: list[tuple[int, PlanEdge]],
        compiled: dict[str, Any],
    ) -> ExecutionPlan:
        plan_edges = tuple(e for _, e in edges)
        incoming = {n: tuple(i for i, e in enumerate(plan_edges) if e.target == n) for n in nodes}
        outgoing = {n: tuple(i for i, e in enumerate(plan_edges) if e.source == n) for n in nodes}
        depth: dict[str, int] = {}
        for n in self.topological_order(nodes, edges) or []:
            depth[n] = max((depth[plan_edges[i].source] + 1 for i in incoming[n]), default=0)
        levels = tuple(
            tuple(n for n in nodes if depth[n] == d) for d in range(max(depth.values()) + 1)
        )
        plan_nodes = {}
        for nid, (_, spec, node_type) in nodes.items():
            assert node_type is not None
            plan_nodes[nid] = PlanNode(
                id=nid,
                spec=spec,
                node_type=node_type,
                parameters=compiled[nid],
                on_error=spec.on_error or settings.on_error,
                retry=spec.retry,
                timeout_s=spec.timeout_s,
                item_type=self.item_types.get(nid),
            )
        return ExecutionPlan(
            workflow_id=doc.id,
            version=doc.version,
            name=doc.name,
            nodes=plan_nodes,
            edges=plan_edges,
            incoming=incoming,
            outgoing=outgoing,
            levels=levels,
            ancestors=self.ancestors(nodes, edges),
            inputs=inputs,
            input_schema=input_schema(inputs),
            settings=settings,
        )


def compile_workflow(doc: Any, *, registry: NodeRegistry | None = None) -> CompileResult:
    """Compile a workflow document (a parsed JSON object)."""
    return _Compiler(doc, registry or default_registry()).compile()
