"""The expression language: parsing, the sandbox, evaluation, templates and whole values."""

from __future__ import annotations

import contextlib
import pickle
import random
import re
from datetime import datetime
from typing import Any

import pytest

from hub.errors import ExpressionError
from hub.expressions import (
    CompiledValue,
    Expression,
    PathNotFound,
    Template,
    compile_value,
    format_value,
    iter_templates,
    parse_expression,
    parse_template,
)

SCOPE: dict[str, Any] = {
    "input": {"userId": 123, "name": "Ann", "tags": ["a", "b"], "k": "name", "flag": True},
    "fetch_user": {"status_code": 200, "body": {"name": "Ann Lee", "age": 42}},
    "a": {"items": [10, 20], "nested": {"deep": {"x": 1}}, "nothing": None},
    "execution": {"id": "ex-1", "attempt": 1},
}


def ev(source: str, scope: dict[str, Any] | None = None) -> Any:
    return parse_expression(source).evaluate(SCOPE if scope is None else scope)


# --- literals, names, access ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1", 1),
        ("1.5", 1.5),
        ("'x'", "x"),
        ('"x"', "x"),
        ("True", True),
        ("true", True),
        ("false", False),
        ("null", None),
        ("None", None),
        ("[1, 'a', null]", [1, "a", None]),
        ("(1, 2)", [1, 2]),
        ("{'a': 1, 'b': [true]}", {"a": 1, "b": [True]}),
        ("$input.userId", 123),
        ("$input['userId']", 123),
        ('$fetch_user.body["age"]', 42),
        ("$input.tags[0]", "a"),
        ("$input.tags[-1]", "b"),
        ("$input.tags[0:1]", ["a"]),
        ("'abcdef'[1:3]", "bc"),
        ("'abc'[::-1]", "cba"),
        ("$input[$input.k]", "Ann"),
        ("$a.nested.deep.x", 1),
        ("  $input.userId  ", 123),
        ("$input.userId +\n 1", 124),
        ("matches('a1', '\\d')", True),
        ("r'\\d' + 'x'", "\\dx"),
    ],
)
def test_values(source: str, expected: Any) -> None:
    assert ev(source) == expected


def test_types_are_kept() -> None:
    assert type(ev("$input.userId")) is int
    assert type(ev("$input.flag")) is bool
    assert type(ev("$input.userId / 1")) is float


# --- operators -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2", 3),
        ("'a' + 'b'", "ab"),
        ("[1] + [2]", [1, 2]),
        ("5 - 7", -2),
        ("3 * 4", 12),
        ("'ab' * 2", "abab"),
        ("2 * [0]", [0, 0]),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("7 % 3", 1),
        ("2 ** 10", 1024),
        ("2 ** -1", 0.5),
        ("-$input.userId", -123),
        ("+1", 1),
        ("not 0", True),
        ("not $input.flag", False),
        ("1 == 1.0", True),
        ("1 != 2", True),
        ("1 < 2 <= 2 < 3", True),
        ("3 > 2 > 2", False),
        ("2 >= 2", True),
        ("'a' in $input.tags", True),
        ("'z' not in $input.tags", True),
        ("'nn' in 'Ann'", True),
        ("'name' in $input", True),
        ("$input.userId > 100 and $fetch_user.body.age >= 18", True),
        ("1 if $input.flag else 2", 1),
        ("1 if not $input.flag else 2", 2),
        ("0 or 'x'", "x"),
        ("'' and 'x'", ""),
        ("1 and 2", 2),
    ],
)
def test_operators(source: str, expected: Any) -> None:
    assert ev(source) == expected


def test_and_or_short_circuit() -> None:
    # The right side would fail; it must not be evaluated.
    assert ev("false and $missing.x") is False
    assert ev("true or $missing.x") is True
    assert ev("$input.userId or 1 / 0") == 123
    assert ev("1 if true else 1 / 0") == 1
    assert ev("1 / 0 if false else 2") == 2
    assert ev("1 > 2 > 1 / 0") is False  # chained comparisons stop too
    with pytest.raises(ExpressionError, match="division by zero"):
        ev("true and 1 / 0")


def test_division_by_zero() -> None:
    for source in ("1 / 0", "1 // 0", "1 % 0", "0 ** -1"):
        with pytest.raises(ExpressionError, match=r"^division by zero in "):
            ev(source)
    with pytest.raises(ExpressionError) as info:
        ev("$input.userId / ($a.items[0] - 10)")
    assert info.value.message == "division by zero in $input.userId / ($a.items[0] - 10)"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("'a' - 1", "cannot apply '-' to a string and a number"),
        ("'a' + 1", "cannot apply '+' to a string and a number"),
        ("[1] * 'a'", "cannot apply '*' to a list and a string"),
        ("'%s' % 1", "cannot apply '%' to a string and a number"),
        ("-'a'", "cannot apply '-' to a string"),
        ("'a' < 1", "cannot compare a string and a number with '<'"),
        ("1 in 'abc'", "cannot apply 'in' to a number and a string"),
        ("1 in 5", "cannot apply 'in' to a number and a number"),
        ("{'a': 1} + {'b': 2}", "cannot apply '+' to an object and an object"),
    ],
)
def test_type_errors_name_the_operation_and_types(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        ev(source)
    assert fragment in info.value.message
    assert not isinstance(info.value, PathNotFound)


# --- functions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("len('abc')", 3),
        ("len($input.tags)", 2),
        ("len($fetch_user.body)", 2),
        ("int('42')", 42),
        ("int(4.9)", 4),
        ("int(true)", 1),
        ("float('2.5')", 2.5),
        ("float(2)", 2.0),
        ("str(1)", "1"),
        ("str('x')", "x"),
        ("str(True)", "true"),
        ("str(None)", "null"),
        ("str([1, 'a'])", '[1, "a"]'),
        ("str({'a': 1})", '{"a": 1}'),
        ("bool(0)", False),
        ("bool('x')", True),
        ("round(2.567)", 3),
        ("round(2.567, 2)", 2.57),
        ("abs(-3)", 3),
        ("abs(-2.5)", 2.5),
        ("min([3, 1, 2])", 1),
        ("min(3, 1, 2)", 1),
        ("max([3, 1, 2])", 3),
        ("max(3, 7)", 7),
        ("sum([1, 2, 3.5])", 6.5),
        ("sum([])", 0),
        ("sorted([3, 1, 2])", [1, 2, 3]),
        ("sorted(['b', 'a'])", ["a", "b"]),
        ("lower('AbC')", "abc"),
        ("upper('AbC')", "ABC"),
        ("strip('  x \\n')", "x"),
        ("split('a b  c')", ["a", "b", "c"]),
        ("split('a,b,,c', ',')", ["a", "b", "", "c"]),
        ("join(['a', 'b'], ', ')", "a, b"),
        ("join([1, true, null, 'x'], '-')", "1-true-null-x"),
        ("join([], ',')", ""),
        ("contains('hello', 'ell')", True),
        ("contains($input.tags, 'b')", True),
        ("contains($input.tags, 'z')", False),
        ("contains($input, 'userId')", True),
        ("startswith('hello', 'he')", True),
        ("startswith('hello', 'lo')", False),
        ("endswith('hello', 'lo')", True),
        ("matches('order 42', '[0-9]+')", True),
        ("matches('order', '^[0-9]+$')", False),
        ("numbers('a 43 b -2 c 4.5')", [43, -2, 4.5]),
        ("numbers('no digits')", []),
        ("numbers('5-3')", [5, 3]),
        ("json({'a': [1, 2], 'b': null})", '{"a":[1,2],"b":null}'),
        ("json('x')", '"x"'),
        ("default($a.missing, 0)", 0),
        ("default($a.nothing, 'fallback')", "fallback"),
        ("default($a.items, [])", [10, 20]),
        ("default($a.items[5], -1)", -1),
        ("default($nope.x.y, 'root')", "root"),
        ("default($a.nothing.deeper, 7)", 7),
        ("default(0, 1)", 0),
        ("default($a.missing, $a.items[0])", 10),
    ],
)
def test_functions(source: str, expected: Any) -> None:
    result = ev(source)
    assert result == expected
    assert type(result) is type(expected)


def test_numbers_types() -> None:
    found = ev("numbers('a 43 b -2 c 4.5')")
    assert [type(v) for v in found] == [int, int, float]


def test_now_is_utc_iso8601() -> None:
    value = ev("now()")
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_default_is_lazy_and_only_catches_not_found() -> None:
    # The fallback is not evaluated when it is not needed.
    assert ev("default($input.userId, 1 / 0)") == 123
    # Errors other than "not found" are not swallowed.
    with pytest.raises(ExpressionError, match="division by zero"):
        ev("default(1 / 0, 0)")
    with pytest.raises(ExpressionError, match="cannot read 'x' of a list"):
        ev("default($input.tags.x, 0)")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("len(1)", "len() needs a string, list or object, got a number"),
        ("int('4.5x')", "int() cannot convert"),
        ("int(null)", "int() cannot convert null"),
        ("float([1])", "float() cannot convert a list"),
        ("lower(1)", "lower() needs a string, got a number"),
        ("split('a', '')", "separator must not be empty"),
        ("join(', ', ['a'])", "join(items, separator)"),
        ("join('ab', ',')", "join() needs a list"),
        ("min([])", "min() of an empty list"),
        ("max(1)", "max() needs a list or several values"),
        ("min([1, 'a'])", "min() cannot compare"),
        ("sum(['a'])", "sum() needs a list of numbers"),
        ("sorted([1, 'a'])", "sorted() cannot order"),
        ("matches('a', '(')", "invalid regular expression"),
        ("round('a')", "round() needs a number"),
        ("contains(1, 1)", "contains() needs a string, list or object"),
        ("json({1, 2})", "set literals are not allowed"),
    ],
)
def test_function_errors(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        ev(source)
    assert fragment in info.value.message


def test_function_arity_and_keywords_checked_at_parse_time() -> None:
    with pytest.raises(ExpressionError, match=r"wrong number of arguments \(2\); call it as len"):
        parse_expression("len(1, 2)")
    with pytest.raises(ExpressionError, match="wrong number of arguments"):
        parse_expression("now(1)")
    with pytest.raises(ExpressionError, match="keyword arguments are not allowed"):
        parse_expression("split('a b', sep=' ')")
    with pytest.raises(ExpressionError, match="'\\*' unpacking is not allowed"):
        parse_expression("max(*$input.tags)")


# --- not found -----------------------------------------------------------------------------------


def test_missing_key_message_names_the_path_and_the_closest_key() -> None:
    with pytest.raises(PathNotFound) as info:
        ev("$fetch_user.body.nme")
    err = info.value
    assert isinstance(err, ExpressionError)
    assert err.message == "$fetch_user.body.nme not found; did you mean 'name'?"
    assert str(err) == err.message
    assert err.path == "$fetch_user.body.nme"
    assert err.suggestion == "name"


def test_missing_root_suggests_the_closest_name() -> None:
    with pytest.raises(PathNotFound) as info:
        ev("$fetchuser.body")
    assert info.value.message == "$fetchuser not found; did you mean '$fetch_user'?"
    assert info.value.path == "$fetchuser"
    assert info.value.suggestion == "$fetch_user"


def test_missing_key_without_close_match() -> None:
    with pytest.raises(PathNotFound) as info:
        ev("$fetch_user.body.zzzzzz")
    assert info.value.message == "$fetch_user.body.zzzzzz not found"
    assert info.value.suggestion is None


def test_list_index_out_of_range() -> None:
    with pytest.raises(PathNotFound) as info:
        ev("$a.items[5]")
    assert info.value.message == "$a.items[5] not found (list has 2 items)"
    assert info.value.path == "$a.items[5]"
    with pytest.raises(PathNotFound, match=r"list has 2 items"):
        ev("$a.items[-3]")


def test_reading_below_null_is_not_found() -> None:
    with pytest.raises(PathNotFound, match=r"^\$a\.nothing\.x not found \(\$a\.nothing is null\)$"):
        ev("$a.nothing.x")


def test_dynamic_key_shows_its_value_in_the_path() -> None:
    with pytest.raises(PathNotFound) as info:
        ev("$fetch_user.body[$input.k + 'x']")
    assert info.value.path == '$fetch_user.body["namex"]'
    assert info.value.suggestion == "name"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("$input.tags.x", "cannot read 'x' of a list ($input.tags is a list)"),
        ("$input.userId.x", "cannot read 'x' of a number"),
        ("$input.name.x", "cannot read 'x' of a string"),
        ("$input.tags['x']", "cannot read 'x' of a list"),
        ("$input.tags[1.5]", "list index must be an integer, got a number"),
        ("$input.tags[true]", "list index must be an integer, got a boolean"),
        ("$input.tags['a':]", "slice bounds must be integers"),
        ("$input.tags[::0]", "slice step cannot be zero"),
        ("$input.userId[0]", "cannot read [0] of a number"),
    ],
)
def test_access_type_errors(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        ev(source)
    assert fragment in info.value.message
    assert not isinstance(info.value, PathNotFound)


# --- references ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("$input.userId", {("input", "userId")}),
        ('$fetch_user.body["age"]', {("fetch_user", "body", "age")}),
        ("$fetch_user.body.age >= 18", {("fetch_user", "body", "age")}),
        ("$a[$input.k]", {("a",), ("input", "k")}),
        ("$a.items[0].x", {("a", "items")}),
        ("$execution", {("execution",)}),
        ("len($input) + $env.HOME", {("input",), ("env", "HOME")}),
        ("default($a.missing, $credential.token)", {("a", "missing"), ("credential", "token")}),
        ("'$input.userId'", set()),
        ("1 + 2", set()),
    ],
)
def test_references(source: str, expected: set[tuple[str, ...]]) -> None:
    expression = parse_expression(source)
    assert isinstance(expression, Expression)
    assert expression.references == frozenset(expected)
    assert expression.source == source


def test_dollar_inside_string_literals_is_text() -> None:
    assert ev("'costs $5 or $input'") == "costs $5 or $input"
    assert ev("\"$input.userId\" + '$'") == "$input.userId$"


# --- the sandbox ---------------------------------------------------------------------------------

ESCAPES = [
    "().__class__",
    "$input.__class__",
    "$input._secret",
    "''.__class__.__mro__",
    '"".__class__.__mro__[1].__subclasses__()',
    "__import__('os')",
    "__import__('os').system('touch /tmp/pwned')",
    "open('/etc/passwd')",
    "$input.keys()",
    "$input.name.upper()",
    "lambda: 1",
    "(lambda: 1)()",
    "[x for x in $input]",
    "{x: 1 for x in $input.tags}",
    "(x for x in $input.tags)",
    "{1, 2}",
    "f'{$input}'",
    "f'{1}'",
    "b'abc'",
    "(y := 1)",
    "[*$input.tags]",
    "{**$input}",
    "getattr($input, '__class__')",
    "eval('1')",
    "exec('1')",
    "compile('1', 'x', 'eval')",
    "globals()",
    "locals",
    "vars()",
    "type(1)",
    "print",
    "_hub_ref_input",
    "_",
    "$input.userId.real",
    "1 .real",
    "len.__self__",
    "len.__call__(1)",
    "$input['__class__']",
    "$input[('_' + '_class__')]",
    "9**9**9",
    "'a' * 10**9",
    "[1] * 10**9",
    "10**9 * 'a'",
    "1 << 100000",
    "~1",
    "1 is None",
    "$input @ $input",
    "x",
    "1j",
    "...",
    "`1`",
    "1; 2",
    "import os",
    "$input.userId = 1",
    "# comment",
    "$",
    "$1",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_raise_expression_error(source: str) -> None:
    try:
        expression = parse_expression(source)
    except ExpressionError:
        return  # refused at parse time
    with pytest.raises(ExpressionError):
        expression.evaluate(SCOPE)


def test_dunder_key_subscript_is_only_a_dict_lookup() -> None:
    # A string subscript on a dict looks the key up; it never reaches attributes.
    with pytest.raises(PathNotFound, match=r'^\$input\["__class__"\] not found'):
        ev("$input['__class__']")
    assert ev("$x['__class__']", {"x": {"__class__": "just data"}}) == "just data"
    assert ev("$x['_id']", {"x": {"_id": 7}}) == 7


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("$input.__class__", "names starting with '_' are not allowed"),
        ("$input._secret", "write ['_secret']"),
        ("__import__('os')", "names starting with '_' are not allowed"),
        ("$input.keys()", "method calls are not allowed"),
        ("$input.name.lower()", "use lower($input.name) instead"),
        ("lambda: 1", "lambda expressions are not allowed"),
        ("[x for x in $input]", "comprehensions are not allowed"),
        ("f'{1}'", "f-strings are not allowed"),
        ("(y := 1)", "assignment expressions (:=) are not allowed"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("lenn($input)", "unknown function 'lenn'; did you mean 'len'?"),
        ("eval('1')", "unknown function 'eval'"),
        ("getattr($input, 'x')", "unknown function 'getattr'"),
        ("lenght", "did you mean"),
        ("input.userId", "did you mean '$input'?"),
        ("len", "len is a function; call it as len(x)"),
        ("$input()", "$input is a value and cannot be called"),
        ("1 is None", "use == and != instead"),
        ("1 << 2", "operator is not allowed"),
        ("1 +", "invalid expression syntax"),
        ("", "empty expression"),
        ("a$input", "'$' cannot follow a name"),
        ("1if 1 else 2", "a number must not be followed directly by a name"),
    ],
)
def test_parse_errors_are_clear(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression(source)
    assert fragment in info.value.message


def test_parse_errors_point_at_the_problem() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression("1 + lambda: 2")
    assert "column 5" in info.value.message
    assert "lambda: 2" in info.value.message
    with pytest.raises(ExpressionError) as info:
        parse_expression("$a.name.lower()")
    assert info.value.suggestion == "lower($a.name)"
    with pytest.raises(ExpressionError) as info:
        parse_expression("lenn(1)")
    assert info.value.suggestion == "len"


def test_unknown_name_suggests_dollar_name() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression("fetch_user.body")
    assert info.value.suggestion == "$fetch_user"


def test_parsing_never_runs_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the interpreter was reached")

    # ast.parse is allowed (it only parses); eval/exec/compile-to-code must never be used.
    for name in ("eval", "exec"):
        monkeypatch.setattr(builtins, name, boom)
    expression = parse_expression("len($input.tags) * 2 + int('3')")
    assert expression.evaluate(SCOPE) == 7


# --- resource limits -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "9**9**9",
        "2 ** 1001",
        "1000 ** 500",
        "'a' * 10**9",
        "[1] * 10**9",
        "'a' * 100001",
        "'ab' * 50000 + 'ab' * 50000 + 'x'",
        "[0] * 100000 + [1]",
        "$big * 3",
        "$big + $big",
        "upper($big) + $big",
        "join([$big, $big], '')",
        "json([$big, $big])",
        "str([$big, $big])",
        "round(1, -10**9)",
        "$huge * $huge",
    ],
)
def test_resource_limits(source: str) -> None:
    scope = {"big": "x" * 60_000, "huge": 2**4000}
    with pytest.raises(ExpressionError, match="resource limit"):
        ev(source, scope)


def test_resource_limits_on_size_of_expression() -> None:
    with pytest.raises(ExpressionError, match="resource limit"):
        parse_expression("1" + " + 1" * 2600)  # longer than 10_000 characters
    with pytest.raises(ExpressionError, match="resource limit"):
        parse_expression("(" * 60 + "1" + ")" * 60 + " + " + "-" * 60 + "1")  # too deep
    with pytest.raises(ExpressionError, match="resource limit"):
        parse_expression("[" + ", ".join(["1"] * 1001) + "]")  # too many parts
    with pytest.raises(ExpressionError, match="resource limit"):
        parse_expression("-" * 5000 + "1")


def test_limits_allow_reasonable_sizes() -> None:
    assert len(ev("'a' * 100000")) == 100_000
    assert len(ev("[0] * 100000")) == 100_000
    assert ev("2 ** 1000") == 2**1000
    assert ev("[" + ", ".join(["1"] * 500) + "]") == [1] * 500


# --- templates -----------------------------------------------------------------------------------


def test_template_single_expression_keeps_its_type() -> None:
    template = parse_template("{{$input.userId}}")
    assert isinstance(template, Template)
    assert template.render(SCOPE) == 123
    assert type(template.render(SCOPE)) is int
    assert parse_template("  {{ $input.userId }}\n").render(SCOPE) == 123
    assert parse_template("{{ $fetch_user.body }}").render(SCOPE) == {"name": "Ann Lee", "age": 42}
    assert parse_template("{{ null }}").render(SCOPE) is None
    assert parse_template("{{ $input.flag }}").render(SCOPE) is True


def test_template_mixed_text_is_formatted() -> None:
    template = parse_template("http://h/users/{{$input.userId}}?v={{ $input.flag }}&n={{null}}")
    assert template.render(SCOPE) == "http://h/users/123?v=true&n=null"
    assert parse_template("User: {{$fetch_user.body.name}}").render(SCOPE) == "User: Ann Lee"
    assert parse_template("b={{ $fetch_user.body }}").render(SCOPE) == (
        'b={"name": "Ann Lee", "age": 42}'
    )
    assert parse_template("{{1}}{{2}}").render(SCOPE) == "12"
    assert parse_template("{{ 'a' }} {{ 1.5 }}").render(SCOPE) == "a 1.5"


def test_template_parts() -> None:
    template = parse_template("a {{ $input.userId }} b {{ $a.items[0] }}")
    assert template.source == "a {{ $input.userId }} b {{ $a.items[0] }}"
    assert [e.source for e in template.expressions] == [" $input.userId ", " $a.items[0] "]
    assert template.references == frozenset({("input", "userId"), ("a", "items")})
    assert template.is_static is False


def test_static_template() -> None:
    template = parse_template("plain text }} with closing braces")
    assert template.is_static
    assert template.expressions == ()
    assert template.references == frozenset()
    assert template.render(SCOPE) == "plain text }} with closing braces"


def test_template_braces_inside_expressions() -> None:
    assert parse_template("{{ {'a': {'b': 1}} }}").render(SCOPE) == {"a": {"b": 1}}
    assert parse_template("{{ {'a': 1}}}").render(SCOPE) == {"a": 1}
    assert parse_template("x{{ '}}' }}y").render(SCOPE) == "x}}y"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{{ $input.userId", "unclosed '{{'"),
        ("a {{ 'b }}", "unclosed '{{'"),
        ("{{ }}", "empty expression"),
        ("{{ $input.__class__ }}", "names starting with '_'"),
        ("ok {{ 1 + }}", "invalid expression syntax"),
    ],
)
def test_template_errors(text: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_template(text)
    assert fragment in info.value.message


def test_template_render_errors_keep_path_and_suggestion() -> None:
    template = parse_template("Hello {{ $fetch_user.body.nme }}")
    with pytest.raises(PathNotFound) as info:
        template.render(SCOPE)
    assert info.value.path == "$fetch_user.body.nme"
    assert info.value.suggestion == "name"


def test_template_mixed_result_is_limited() -> None:
    with pytest.raises(ExpressionError, match="resource limit"):
        parse_template("{{ $big }}{{ $big }}").render({"big": "x" * 60_000})


def test_single_template_returns_fresh_containers() -> None:
    scope = {"x": {"list": [1]}}
    value = parse_template("{{ $x }}").render(scope)
    value["list"].append(2)
    assert scope == {"x": {"list": [1]}}


# --- whole values --------------------------------------------------------------------------------


def test_compile_value_renders_nested_values() -> None:
    compiled = compile_value(
        {
            "method": "GET",
            "url": "http://h/users/{{$input.userId}}",
            "headers": {"X-Id": "{{ $input.userId }}", "Accept": "application/json"},
            "json": [1, "{{ $input.tags }}", {"age": "{{ $fetch_user.body.age + 1 }}"}, None],
            "n": 3,
            "ok": True,
        }
    )
    assert isinstance(compiled, CompiledValue)
    assert compiled.is_static is False
    assert compiled.references == frozenset(
        {("input", "userId"), ("input", "tags"), ("fetch_user", "body", "age")}
    )
    assert compiled.render(SCOPE) == {
        "method": "GET",
        "url": "http://h/users/123",
        "headers": {"X-Id": 123, "Accept": "application/json"},
        "json": [1, ["a", "b"], {"age": 43}, None],
        "n": 3,
        "ok": True,
    }


def test_compile_value_returns_fresh_containers() -> None:
    original = {"static": {"list": [1, 2]}, "dyn": "{{ $input.tags }}"}
    compiled = compile_value(original)
    first = compiled.render(SCOPE)
    first["static"]["list"].append(3)
    first["dyn"].append("c")
    second = compiled.render(SCOPE)
    assert second == {"static": {"list": [1, 2]}, "dyn": ["a", "b"]}
    assert SCOPE["input"]["tags"] == ["a", "b"]
    assert original == {"static": {"list": [1, 2]}, "dyn": "{{ $input.tags }}"}


def test_compile_value_static() -> None:
    value = {"a": [1, {"b": "text }}"}], "c": None}
    compiled = compile_value(value)
    assert compiled.is_static
    assert compiled.references == frozenset()
    rendered = compiled.render({})
    assert rendered == value
    assert rendered is not value
    assert rendered["a"] is not value["a"]
    assert compile_value("plain").render({}) == "plain"
    assert compile_value(5).render({}) == 5
    assert compile_value("{{ 2 * 3 }}").render({}) == 6


def test_compile_value_error_carries_json_pointer() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_value({"headers": {"Authorization": "Bearer {{ $credential.__x }}"}})
    assert info.value.path == "/headers/Authorization"
    assert "names starting with '_'" in info.value.message
    with pytest.raises(ExpressionError) as info:
        compile_value({"a/b": [0, {"c~d": "{{ lenn(1) }}"}]})
    assert info.value.path == "/a~1b/1/c~0d"
    assert info.value.suggestion == "len"
    with pytest.raises(ExpressionError) as info:
        compile_value("{{ oops")
    assert info.value.path == ""


def test_compile_value_render_errors_keep_expression_path() -> None:
    compiled = compile_value({"message": "hi {{ $fetchuser.body.name }}"})
    with pytest.raises(PathNotFound) as info:
        compiled.render(SCOPE)
    assert info.value.path == "$fetchuser"
    assert info.value.suggestion == "$fetch_user"


def test_iter_templates() -> None:
    value = {
        "url": "http://x/{{ $input.id }}",
        "plain": "no braces }}",
        "list": ["a", "{{ 1 }}", {"k/x": "{{ 2 }}"}],
        "t~": "{{ 3 }}",
        "n": 5,
    }
    assert list(iter_templates(value)) == [
        ("/url", "http://x/{{ $input.id }}"),
        ("/list/1", "{{ 1 }}"),
        ("/list/2/k~1x", "{{ 2 }}"),
        ("/t~0", "{{ 3 }}"),
    ]
    assert list(iter_templates("{{ x }}", "/base")) == [("/base", "{{ x }}")]
    assert list(iter_templates(["{{ a }}"], "/p")) == [("/p/0", "{{ a }}")]
    assert list(iter_templates(3)) == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", "x"),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (1, "1"),
        (1.5, "1.5"),
        ({"a": 1}, '{"a": 1}'),
        ([1, "b"], '[1, "b"]'),
        ("é", "é"),
        ({"k": "é"}, '{"k": "é"}'),
    ],
)
def test_format_value(value: Any, text: str) -> None:
    assert format_value(value) == text


# --- misc ----------------------------------------------------------------------------------------


def test_compiled_objects_survive_pickling() -> None:
    expression = parse_expression("$input.userId + 1")
    assert pickle.loads(pickle.dumps(expression)).evaluate(SCOPE) == 124
    template = parse_template("id={{ $input.userId }}")
    assert pickle.loads(pickle.dumps(template)).render(SCOPE) == "id=123"
    compiled = compile_value({"a": ["{{ $input.userId }}"]})
    assert pickle.loads(pickle.dumps(compiled)).render(SCOPE) == {"a": [123]}
    with pytest.raises(PathNotFound) as info:
        ev("$fetch_user.body.nme")
    copy = pickle.loads(pickle.dumps(info.value))
    assert isinstance(copy, PathNotFound)
    assert (copy.message, copy.path, copy.suggestion) == (
        info.value.message,
        info.value.path,
        "name",
    )


FUZZ_PIECES = [
    *"$abin_019.,:()[]{}'\"\\ +-*/%<>=!~&|@#\nejrbuNé",
    *["$input", "len(", " if ", " else ", " and ", "**", "//", "'''", "__", "null"],
    *["lambda", " for ", ":=", "\\d", "1if", "}}", "{{"],
]


def test_random_text_only_ever_raises_expression_error() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(1, 12)))
        with contextlib.suppress(ExpressionError):
            parse_template("x{{" + text + "}}").render(SCOPE)
        with contextlib.suppress(ExpressionError):
            parse_expression(text).evaluate(SCOPE)


def test_non_string_source_is_refused() -> None:
    with pytest.raises(ExpressionError):
        parse_expression(123)  # type: ignore[arg-type]
    with pytest.raises(ExpressionError):
        parse_template(["{{ 1 }}"])  # type: ignore[arg-type]


def test_expression_is_reusable_across_scopes() -> None:
    expression = parse_expression("$input.n * 2")
    assert [expression.evaluate({"input": {"n": n}}) for n in range(3)] == [0, 2, 4]


def test_messages_never_contain_internal_names() -> None:
    for source in ("$input.keys()", "a$input", "$input + ", "$input.x.upper()"):
        with pytest.raises(ExpressionError) as info:
            parse_expression(source)
        assert "_hub_ref_" not in info.value.message
        assert re.search(r"\$input", info.value.message) or "column" in info.value.message
