"""hub.compiler: diagnostics (docs/dsl.md "Diagnostics") and the compiled plan."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.compiler import CompileResult, Diagnostic, compile_workflow
from hub.errors import WorkflowInvalid

# --- helpers --------------------------------------------------------------------------------------


def log(node_id: str, message: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "log", "parameters": {"message": message}, **extra}


def doc(*nodes: dict[str, Any], edges: list[dict[str, Any]] | None = None, **top: Any) -> dict:
    return {"id": "wf", "nodes": list(nodes), "edges": edges or [], **top}


def edge(source: str, target: str, when: str | None = None) -> dict[str, Any]:
    return {"from": source, "to": target, **({"when": when} if when else {})}


def only(result: CompileResult, code: str) -> Diagnostic:
    """The single diagnostic with ``code`` (there must be exactly one)."""
    found = [d for d in result.diagnostics if d.code == code]
    assert len(found) == 1, result.diagnostics
    return found[0]


def codes(result: CompileResult) -> set[str]:
    return {d.code for d in result.diagnostics}


# --- cycle ----------------------------------------------------------------------------------------


def test_cycle_between_two_nodes_is_an_error_at_the_closing_edge() -> None:
    result = compile_workflow(doc(log("a"), log("b"), edges=[edge("a", "b"), edge("b", "a")]))
    d = only(result, "cycle")
    assert d.severity == "error"
    assert d.path == "/edges/0"
    assert "a -> b -> a" in d.message
    assert result.plan is None
    assert not result.ok


def test_self_loop_is_a_cycle() -> None:
    result = compile_workflow(doc(log("a"), log("b"), edges=[edge("a", "b"), edge("b", "b")]))
    d = only(result, "cycle")
    assert d.severity == "error"
    assert d.path == "/edges/1"
    assert "b -> b" in d.message
    assert result.plan is None


def test_cycle_with_a_node_downstream_of_it_is_reported_not_raised() -> None:
    # "a" sorts before the cycle x <-> y and hangs below it: Kahn's algorithm leaves all three.
    document = doc(
        log("x"), log("y"), log("a"), edges=[edge("x", "y"), edge("y", "x"), edge("x", "a")]
    )
    result = compile_workflow(document)
    d = only(result, "cycle")
    assert d.severity == "error"
    assert "x" in d.message and "y" in d.message


# --- unknown_node_type / duplicate_node_id / unknown_edge_endpoint --------------------------------


def test_unknown_node_type_suggests_the_closest_type() -> None:
    result = compile_workflow(doc({"id": "a", "type": "htp", "parameters": {}}))
    d = only(result, "unknown_node_type")
    assert d.severity == "error"
    assert d.path == "/nodes/0/type"
    assert d.suggestion == "http"
    assert "htp" in d.message
    assert result.plan is None


def test_duplicate_node_id_points_at_the_second_node() -> None:
    result = compile_workflow(doc(log("a"), log("b"), log("a")))
    d = only(result, "duplicate_node_id")
    assert d.severity == "error"
    assert d.path == "/nodes/2/id"
    assert "/nodes/0" in d.message
    assert result.plan is None


@pytest.mark.parametrize(
    ("bad_edge", "path", "suggestion"),
    [
        (edge("alpah", "beta"), "/edges/0/from", "alpha"),
        (edge("alpha", "betta"), "/edges/0/to", "beta"),
    ],
)
def test_unknown_edge_endpoint_suggests_a_near_miss(
    bad_edge: dict[str, Any], path: str, suggestion: str
) -> None:
    result = compile_workflow(doc(log("alpha"), log("beta"), edges=[bad_edge]))
    d = only(result, "unknown_edge_endpoint")
    assert d.severity == "error"
    assert d.path == path
    assert d.suggestion == suggestion
    assert repr(suggestion) in d.message
    assert result.plan is None


def test_unknown_edge_endpoint_without_near_miss_has_no_suggestion() -> None:
    result = compile_workflow(doc(log("alpha"), edges=[edge("alpha", "zzzzzzzz")]))
    d = only(result, "unknown_edge_endpoint")
    assert d.path == "/edges/0/to"
    assert d.suggestion is None


# --- bad_reference --------------------------------------------------------------------------------


def test_reference_to_unknown_node() -> None:
    result = compile_workflow(doc(log("a", "{{ $nowhere_to_be_found.x }}")))
    d = only(result, "bad_reference")
    assert d.severity == "error"
    assert d.path == "/nodes/0/parameters/message"
    assert "$nowhere_to_be_found" in d.message


def test_reference_to_unknown_node_suggests_a_near_miss() -> None:
    document = doc(
        log("fetch_user"), log("b", "{{ $fetch_usr.x }}"), edges=[edge("fetch_user", "b")]
    )
    d = only(compile_workflow(document), "bad_reference")
    assert d.path == "/nodes/1/parameters/message"
    assert d.suggestion == "fetch_user"


def test_reference_to_undeclared_input_suggests_the_declared_one() -> None:
    document = doc(log("a", "user {{ $input.userid }}"), inputs={"userId": {"type": "integer"}})
    d = only(compile_workflow(document), "bad_reference")
    assert d.severity == "error"
    assert d.path == "/nodes/0/parameters/message"
    assert d.suggestion == "userId"
    assert "userid" in d.message


def test_reference_to_unknown_execution_field() -> None:
    d = only(compile_workflow(doc(log("a", "{{ $execution.idd }}"))), "bad_reference")
    assert d.severity == "error"
    assert d.path == "/nodes/0/parameters/message"
    assert d.suggestion == "id"


def test_known_execution_fields_and_declared_inputs_are_fine() -> None:
    message = (
        "{{ $execution.id }} {{ $execution.workflow_id }} {{ $execution.workflow_version }} "
        "{{ $execution.started_at }} {{ $execution.attempt }} {{ $input.name }}"
    )
    result = compile_workflow(doc(log("a", message), inputs={"name": {"type": "string"}}))
    assert result.diagnostics == []
    assert result.plan is not None


def test_reference_nested_in_parameters_reports_the_nested_pointer() -> None:
    node = {"id": "s", "type": "set", "parameters": {"values": {"list": ["x", "{{ $nope }}"]}}}
    d = only(compile_workflow(doc(node)), "bad_reference")
    assert d.path == "/nodes/0/parameters/values/list/1"


# --- not_upstream ---------------------------------------------------------------------------------


def test_reference_to_a_sibling_is_not_upstream() -> None:
    document = doc(
        log("root"),
        log("left"),
        log("right", "{{ $left.message }}"),
        edges=[edge("root", "left"), edge("root", "right")],
    )
    result = compile_workflow(document)
    d = only(result, "not_upstream")
    assert d.severity == "error"
    assert d.path == "/nodes/2/parameters/message"
    assert "$left" in d.message
    assert result.plan is None


def test_reference_to_itself_is_not_upstream() -> None:
    d = only(compile_workflow(doc(log("a", "{{ $a.message }}"))), "not_upstream")
    assert d.severity == "error"
    assert d.path == "/nodes/0/parameters/message"
    assert "itself" in d.message


def test_reference_to_an_indirect_ancestor_is_fine() -> None:
    document = doc(
        log("a"), log("b"), log("c", "{{ $a.message }}"), edges=[edge("a", "b"), edge("b", "c")]
    )
    result = compile_workflow(document)
    assert result.diagnostics == []


# --- bad_parameters -------------------------------------------------------------------------------


def test_missing_required_parameter() -> None:
    d = only(compile_workflow(doc({"id": "a", "type": "log", "parameters": {}})), "bad_parameters")
    assert d.severity == "error"
    assert d.path == "/nodes/0/parameters/message"
    assert "message" in d.message


def test_parameter_of_the_wrong_type() -> None:
    node = {"id": "d", "type": "delay", "parameters": {"seconds": "soon"}}
    d = only(compile_workflow(doc(node)), "bad_parameters")
    assert d.severity == "error"
    assert d.path == "/nodes/0/parameters/seconds"


def test_unknown_parameter_suggests_the_closest_name() -> None:
    node = {"id": "a", "type": "log", "parameters": {"message": "m", "lvl": "info"}}
    d = only(compile_workflow(doc(node)), "bad_parameters")
    assert d.severity == "error"
    assert d.path == "/nodes/0/parameters/lvl"
    assert d.suggestion == "level"


def test_unknown_parameter_suggests_an_alias() -> None:
    node = {"id": "h", "type": "http", "parameters": {"url": "http://x.test/", "jsno": {}}}
    d = only(compile_workflow(doc(node)), "bad_parameters")
    assert d.path == "/nodes/0/parameters/jsno"
    assert d.suggestion == "json"


def test_templated_parameter_values_are_not_checked_statically() -> None:
    nodes = [
        {"id": "d", "type": "delay", "parameters": {"seconds": "{{ $input.wait }}"}},
        {"id": "l", "type": "log", "parameters": {"message": "m", "level": "{{ $input.lvl }}"}},
    ]
    result = compile_workflow(
        doc(*nodes, inputs={"wait": {"type": "string"}, "lvl": {"type": "string"}})
    )
    assert result.diagnostics == []
    assert result.plan is not None


# --- unreachable_node / bad_port ------------------------------------------------------------------


def test_node_only_reachable_through_a_dead_error_edge_is_unreachable() -> None:
    result = compile_workflow(doc(log("a"), log("b"), edges=[edge("a", "b", "error")]))
    d = only(result, "unreachable_node")
    assert d.severity == "warning"
    assert d.path == "/nodes/1"
    assert "'b'" in d.message
    # warnings do not block the plan
    assert result.ok
    assert result.plan is not None


def test_unreachability_propagates_downstream() -> None:
    result = compile_workflow(
        doc(log("a"), log("b"), log("c"), edges=[edge("a", "b", "error"), edge("b", "c")])
    )
    unreachable = [d.path for d in result.diagnostics if d.code == "unreachable_node"]
    assert unreachable == ["/nodes/1", "/nodes/2"]


@pytest.mark.parametrize("where", ["node", "settings"])
def test_error_edge_of_a_branching_node_is_fine(where: str) -> None:
    if where == "node":
        document = doc(log("a", on_error="branch"), log("b"), edges=[edge("a", "b", "error")])
    else:
        document = doc(
            log("a"), log("b"), edges=[edge("a", "b", "error")], settings={"on_error": "branch"}
        )
    result = compile_workflow(document)
    assert result.diagnostics == []
    assert result.plan is not None


def test_error_edge_without_branch_is_a_bad_port_warning() -> None:
    result = compile_workflow(doc(log("a"), log("b"), edges=[edge("a", "b", "error")]))
    d = only(result, "bad_port")
    assert d.severity == "warning"
    assert d.path == "/edges/0/when"
    assert d.suggestion == "branch"


def test_unknown_port_on_a_condition_is_an_error() -> None:
    condition = {"id": "c", "type": "condition", "parameters": {"expression": True}}
    result = compile_workflow(doc(condition, log("b"), edges=[edge("c", "b", "ture")]))
    d = only(result, "bad_port")
    assert d.severity == "error"
    assert d.path == "/edges/0/when"
    assert d.suggestion == "true"
    assert result.plan is None


def test_switch_ports_are_its_cases_and_default() -> None:
    switch = {"id": "s", "type": "switch", "parameters": {"value": "a", "cases": ["a", "b"]}}
    ok_edges = [edge("s", "x", "a"), edge("s", "y", "b"), edge("s", "z", "default")]
    ok = compile_workflow(doc(switch, log("x"), log("y"), log("z"), edges=ok_edges))
    assert ok.diagnostics == []
    bad = compile_workflow(doc(switch, log("x"), edges=[edge("s", "x", "c")]))
    d = only(bad, "bad_port")
    assert d.severity == "error"
    assert d.path == "/edges/0/when"


def test_port_on_a_node_without_named_ports_is_an_error() -> None:
    result = compile_workflow(doc(log("a"), log("b"), edges=[edge("a", "b", "true")]))
    d = only(result, "bad_port")
    assert d.severity == "error"


def test_switch_with_templated_cases_accepts_case_edges() -> None:
    switch = {
        "id": "s",
        "type": "switch",
        "parameters": {"value": "a", "cases": "{{ $input.cases }}"},
    }
    document = doc(
        switch, log("x"), edges=[edge("s", "x", "a")], inputs={"cases": {"type": "array"}}
    )
    result = compile_workflow(document)
    assert result.errors == []


# --- expression_syntax ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "{{ $a. }}",  # dangling attribute access
        "hello {{ 1 + ",  # unclosed {{
        "{{ ().__class__ }}",  # sandbox escape
        "{{ __import__('os') }}",
        "{{ open('/etc/passwd') }}",
    ],
)
def test_expression_syntax(text: str) -> None:
    result = compile_workflow(doc(log("a", text)))
    d = only(result, "expression_syntax")
    assert d.severity == "error"
    assert d.path == "/nodes/0/parameters/message"
    assert result.plan is None


def test_unclosed_template_message_says_unclosed() -> None:
    d = only(compile_workflow(doc(log("a", "x {{ 1"))), "expression_syntax")
    assert "unclosed" in d.message


def test_underscore_attribute_message_names_it() -> None:
    d = only(compile_workflow(doc(log("a", "{{ ().__class__ }}"))), "expression_syntax")
    assert "__class__" in d.message


# --- invalid_document -----------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", [[], "workflow", 42, None, True])
def test_a_document_that_is_not_an_object(garbage: Any) -> None:
    result = compile_workflow(garbage)
    d = only(result, "invalid_document")
    assert d.severity == "error"
    assert d.path == ""
    assert result.plan is None


def test_missing_id_and_nodes() -> None:
    result = compile_workflow({})
    paths = {d.path for d in result.diagnostics if d.code == "invalid_document"}
    assert paths == {"/id", "/nodes"}
    assert all(d.severity == "error" for d in result.diagnostics)


@pytest.mark.parametrize("bad_id", ["Bad Id", "UPPER", "-leading", "x" * 65, ""])
def test_bad_workflow_id(bad_id: str) -> None:
    result = compile_workflow({"id": bad_id, "nodes": [log("a")]})
    d = only(result, "invalid_document")
    assert d.severity == "error"
    assert d.path == "/id"


def test_unknown_top_level_key_suggests_the_closest() -> None:
    result = compile_workflow({"id": "wf", "nodes": [log("a")], "edgs": []})
    d = only(result, "invalid_document")
    assert d.path == "/edgs"
    assert d.suggestion == "edges"


def test_bad_input_specs() -> None:
    inputs = {
        "kind": {"type": "strng"},
        "name": {"type": "string", "requird": True},
        "code": {"type": "string", "pattern": "(["},
    }
    result = compile_workflow(doc(log("a"), inputs=inputs))
    by_path = {d.path: d for d in result.diagnostics if d.code == "invalid_document"}
    assert set(by_path) == {"/inputs/kind/type", "/inputs/name/requird", "/inputs/code/pattern"}
    assert by_path["/inputs/name/requird"].suggestion == "required"
    assert result.plan is None


def test_empty_nodes_list() -> None:
    d = only(compile_workflow({"id": "wf", "nodes": []}), "invalid_document")
    assert d.severity == "error"
    assert d.path == "/nodes"


@pytest.mark.parametrize("reserved", ["input", "execution", "env", "credential"])
def test_reserved_node_id(reserved: str) -> None:
    d = only(compile_workflow(doc(log(reserved))), "invalid_document")
    assert d.severity == "error"
    assert d.path == "/nodes/0/id"
    assert "reserved" in d.message


def test_bad_node_id_format() -> None:
    d = only(compile_workflow(doc(log("1st"))), "invalid_document")
    assert d.path == "/nodes/0/id"


def test_unknown_node_key_suggests_the_closest() -> None:
    node = {**log("a"), "on_eror": "ignore"}
    d = only(compile_workflow(doc(node)), "invalid_document")
    assert d.path == "/nodes/0/on_eror"
    assert d.suggestion == "on_error"


def test_bad_settings() -> None:
    result = compile_workflow(doc(log("a"), settings={"timeout_s": -1, "on_error": "explode"}))
    paths = {d.path for d in result.diagnostics if d.code == "invalid_document"}
    assert paths == {"/settings/timeout_s", "/settings/on_error"}


def test_bad_edge_shape() -> None:
    result = compile_workflow(doc(log("a"), log("b"), edges=[{"from": "a"}]))
    d = only(result, "invalid_document")
    assert d.path == "/edges/0/to"


# --- valid documents and plans --------------------------------------------------------------------


def test_a_valid_diamond_compiles_to_a_plan() -> None:
    document = doc(
        log("d"),
        log("b"),
        log("a"),
        log("c"),
        edges=[edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d")],
        inputs={"n": {"type": "integer", "required": True}},
    )
    result = compile_workflow(document)
    assert result.ok
    assert result.errors == []
    assert result.diagnostics == []
    plan = result.plan
    assert plan is not None
    assert plan.workflow_id == "wf"
    assert plan.version == "1"
    assert plan.start_nodes == ("a",)
    assert [set(level) for level in plan.levels] == [{"a"}, {"b", "c"}, {"d"}]
    assert plan.ancestors["a"] == frozenset()
    assert plan.ancestors["b"] == frozenset({"a"})
    assert plan.ancestors["c"] == frozenset({"a"})
    assert plan.ancestors["d"] == frozenset({"a", "b", "c"})
    assert plan.input_schema["required"] == ["n"]
    summary = plan.summary()
    assert summary["nodes"]["d"]["upstream"] == ["a", "b", "c"]
    assert result.raise_for_errors() is plan


def test_unconnected_nodes_are_all_start_nodes() -> None:
    plan = compile_workflow(doc(log("a"), log("b"))).raise_for_errors()
    assert set(plan.start_nodes) == {"a", "b"}
    assert len(plan.levels) == 1


def test_numeric_version_is_accepted_as_a_string() -> None:
    plan = compile_workflow(doc(log("a"), version=2)).raise_for_errors()
    assert plan.version == "2"


def test_the_dsl_example_compiles() -> None:
    example = {
        "id": "fetch-user",
        "name": "Fetch a user and greet them",
        "version": "1",
        "inputs": {
            "userId": {"type": "integer", "required": True, "minimum": 1},
            "verbose": {"type": "boolean", "default": False},
        },
        "settings": {"timeout_s": 60, "on_error": "halt"},
        "nodes": [
            {
                "id": "fetch_user",
                "type": "http",
                "parameters": {
                    "method": "GET",
                    "url": "http://127.0.0.1:8080/users/{{$input.userId}}",
                },
                "retry": {"max_attempts": 3, "backoff_s": 0.2, "multiplier": 2.0},
                "timeout_s": 10,
                "on_error": "branch",
            },
            {
                "id": "is_adult",
                "type": "condition",
                "parameters": {"expression": "{{ $fetch_user.body.age >= 18 }}"},
            },
            {"id": "greet", "type": "log", "parameters": {"message": "{{$fetch_user.body.name}}"}},
            {"id": "deny", "type": "fail", "parameters": {"message": "too young"}},
            {
                "id": "report_error",
                "type": "log",
                "parameters": {"level": "error", "message": "{{$fetch_user.error.message}}"},
            },
        ],
        "edges": [
            {"from": "fetch_user", "to": "is_adult"},
            {"from": "fetch_user", "to": "report_error", "when": "error"},
            {"from": "is_adult", "to": "greet", "when": "true"},
            {"from": "is_adult", "to": "deny", "when": "false"},
        ],
    }
    result = compile_workflow(example)
    assert result.diagnostics == []
    assert result.plan is not None
    assert result.plan.start_nodes == ("fetch_user",)


def test_several_errors_are_reported_at_once() -> None:
    document = {
        "id": "wf",
        "nodes": [
            {"id": "a", "type": "htp", "parameters": {}},
            log("b", "{{ $ghost }}"),
            log("b"),
            {"id": "c", "type": "log", "parameters": {"message": "m", "lvl": "x"}},
            log("d", "{{ 1 + }}"),
        ],
        "edges": [edge("b", "nowhere")],
        "extra": 1,
    }
    result = compile_workflow(document)
    assert {
        "unknown_node_type",
        "bad_reference",
        "duplicate_node_id",
        "bad_parameters",
        "expression_syntax",
        "unknown_edge_endpoint",
        "invalid_document",
    } <= codes(result)
    assert result.plan is None


def test_diagnostics_serialise_with_the_contract_keys() -> None:
    result = compile_workflow(doc({"id": "a", "type": "htp", "parameters": {}}))
    assert result.diagnostics[0].to_dict() == {
        "severity": "error",
        "code": "unknown_node_type",
        "message": "unknown node type 'htp'; did you mean 'http'?",
        "path": "/nodes/0/type",
        "suggestion": "http",
    }


# --- raise_for_errors -----------------------------------------------------------------------------


def test_raise_for_errors_names_the_first_error_and_its_path() -> None:
    result = compile_workflow(
        doc({"id": "a", "type": "htp", "parameters": {}}, log("b", "{{ $ghost }}"))
    )
    first = result.errors[0]
    with pytest.raises(WorkflowInvalid) as info:
        result.raise_for_errors()
    message = str(info.value)
    assert first.message in message
    assert first.path in message
    assert "1 more" in message
    assert [d["code"] for d in info.value.diagnostics] == [d.code for d in result.diagnostics]


def test_raise_for_errors_for_a_non_object() -> None:
    with pytest.raises(WorkflowInvalid, match="must be a JSON object"):
        compile_workflow("nope").raise_for_errors()


# --- never raises ---------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
node_keys = st.sampled_from(["id", "type", "parameters", "on_error", "retry", "disabled", "x"])
node_like = st.dictionaries(
    node_keys,
    json_values | st.sampled_from(["log", "set", "condition", "a", "b", "{{ $a }}", "{{"]),
    max_size=5,
)
doc_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values | st.sampled_from(["wf", "a-b"]),
        "nodes": st.lists(node_like | json_values, max_size=4),
        "edges": st.lists(
            st.dictionaries(st.sampled_from(["from", "to", "when"]), json_values, max_size=3)
            | json_values,
            max_size=4,
        ),
        "inputs": st.dictionaries(st.text(max_size=5), json_values, max_size=3) | json_values,
        "settings": json_values,
        "version": json_values,
    },
)


@settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the repo
    derandomize=True,  # the same examples on every run: a stable suite
    suppress_health_check=[HealthCheck.too_slow],
)
@given(json_values | doc_like)
def test_compile_never_raises_on_garbage(document: Any) -> None:
    result = compile_workflow(document)
    for d in result.diagnostics:
        assert d.severity in ("error", "warning")
        assert isinstance(d.code, str) and d.code
        assert d.path == "" or d.path.startswith("/")
    assert (result.plan is None) or result.ok
