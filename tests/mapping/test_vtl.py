"""Unit tests for the VTL engine: each construct, each ``$util`` function, the quirks AWS users rely on."""

from __future__ import annotations

import threading

import pytest

import apigate.dataplane.mapping as mapping
from apigate.dataplane.mapping import (
    MAX_FOREACH,
    UTIL,
    InputVariable,
    Template,
    TemplateError,
    TemplateRenderError,
    render_mapping,
)


def render(source: str, **variables: object) -> str:
    return Template.parse(source).render(variables)


def render_input(source: str, body: str = "", **params: dict[str, str]) -> str:
    template = Template.parse(source)
    output, _ = render_mapping(template, body=body, params=params, context={}, stage_variables={})
    return output


def test_public_surface_is_pinned() -> None:
    assert sorted(mapping.__all__) == sorted(
        [
            "MAX_FOREACH",
            "UTIL",
            "InputVariable",
            "Template",
            "TemplateError",
            "TemplateRenderError",
            "Util",
            "render_mapping",
        ]
    )


# ------------------------------------------------------------------------------------------ references


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("$foo", "$foo"),  # undefined renders as written
        ("$!foo", ""),
        ("${foo}", "${foo}"),
        ("$!{foo}", ""),
        ("$foo.bar($x, 'y')[0]", "$foo.bar($x, 'y')[0]"),
        ("a $ b $1 $", "a $ b $1 $"),  # a lone $ is text
        ("$a.b", "$a.b"),
    ],
)
def test_undefined_references(source: str, expected: str) -> None:
    assert render(source) == expected


def test_defined_references_and_formal_notation() -> None:
    assert render("${name}s and $name.length()", name="cat") == "cats and 3"
    assert render("$m.a.b $m['a']['b'] $m.a.missing", m={"a": {"b": 1}}) == "1 1 $m.a.missing"
    assert render("$l[1] $l[9]", l=[1, 2]) == "2 $l[9]"
    assert render("$x.", x="end") == "end."
    assert render("$price[USD]", price="9") == "9[USD]"  # not an index: left as text


def test_hyphen_is_part_of_an_identifier_as_in_velocity_17() -> None:
    assert render("$a-b", **{"a-b": "x"}) == "x"
    assert render("$a-", a="1") == "$a-"


def test_value_formatting_is_java_like() -> None:
    assert render("$t $f $n $d $e $big", t=True, f=False, n=3, d=2.5, e=1e-5, big=1e21) == (
        "true false 3 2.5 1.0E-5 1.0E21"
    )
    assert render("$m $l", m={"a": 1, "b": None}, l=[1, "x", [True]]) == "{a=1, b=null} [1, x, [true]]"
    assert render("$n", n=None) == "$n"


def test_escaped_references() -> None:
    assert render(r"\$x \$y \\$x", x="1") == r"$x \$y \1"


# ------------------------------------------------------------------------------------------ directives


def test_set_and_null_right_hand_side_keeps_old_value() -> None:
    assert render("#set($a = 1)#set($a = $missing)$a") == "1"
    assert render("#set($m = {})#set($m.k = 'v')#set($m['j'] = 2)$m") == "{k=v, j=2}"


def test_if_elseif_else() -> None:
    source = "#if($n == 1)one#elseif($n == 2)two#{else}many#end"
    assert [render(source, n=n) for n in (1, 2, 3)] == ["one", "two", "many"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "F"), (False, "F"), (True, "T"), ("", "T"), (0, "T"), ([], "T")],
)
def test_truthiness_is_velocity_17(value: object, expected: str) -> None:
    assert render("#if($v)T#{else}F#end", v=value) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("7 / 2", "3"),
        ("-7 / 2", "-3"),
        ("-7 % 3", "-1"),
        ("7.0 / 2", "3.5"),
        ("'a' + 1", "a1"),
        ("1 == 1.0", "true"),
        ("1 == '1'", "true"),  # Velocity 1.7 compares toString() across types
        ("'a' != 'b'", "true"),
        ("2 > 1 && 1 >= 1", "true"),
        ("1 < 2 and not false", "true"),
        ("false || 1 le 0", "false"),
        ("!true or 3 gt 2", "true"),
        ("'b' < 'a'", "false"),
        ("1 eq 1 && 2 ne 3", "true"),
    ],
)
def test_expressions(expr: str, expected: str) -> None:
    assert render(f"#set($r = {expr})$r") == expected


def test_division_by_zero_yields_null() -> None:
    assert render("#set($r = 'kept')#set($r = 1 / 0)$r") == "kept"


def test_foreach_state_and_nesting() -> None:
    source = "#foreach($a in [1..2])#foreach($b in ['x','y'])$a$b$foreach.index$foreach.hasNext #end|$foreach.count #end"
    assert render(source) == "1x0true 1y1false |1 2x0true 2y1false |2 "


def test_foreach_over_map_values_and_null_and_restores_variable() -> None:
    assert render("#set($x = 'before')#foreach($x in $m)$x,#end$x", m={"a": 1, "b": 2}) == "1,2,before"
    assert render("#foreach($x in $nothing)never#end.") == "."


def test_foreach_is_capped_at_1000_iterations() -> None:
    template = Template.parse("#foreach($i in $items)x#end")
    assert MAX_FOREACH == 1000
    assert template.render({"items": list(range(5000))}) == "x" * 1000
    assert render("#foreach($i in [1..2000])#set($last = $i)#end$last") == "1000"


def test_break_and_stop() -> None:
    assert render("#foreach($i in [1..5])$i#if($i == 2)#break#end#end!") == "12!"
    assert render("a#stop b") == "a"


def test_macro_and_define() -> None:
    assert render("#macro(greet $who)Hi $who!#end#greet('Ann') #greet($n)", n="Bo") == "Hi Ann! Hi Bo!"
    # Velocity 1.7 also swallows the blanks just before a #set.
    assert render("#define($block)v=$v#end#set($v = 1)$block #set($v = 2)$block") == "v=1v=2"


def test_comments_and_unparsed_blocks() -> None:
    assert render("a## comment\nb#* block\n *#c#[[ $x #if ]]#") == "abc $x #if "


def test_unknown_directive_is_text() -> None:
    assert render("color: #fff; #return") == "color: #fff; #return"


def test_whitespace_gobbling_follows_velocity_17() -> None:
    source = "  #set($a = 1)\n  #if($a == 1)\n  yes\n  #else\n  no\n  #end\nend"
    assert render(source) == "    yes\n  end"


def test_string_literals() -> None:
    assert render("""#set($n = 'Ann')#set($s = "hi $n")#set($q = 'hi $n')$s / $q""") == "hi Ann / hi $n"
    assert render('#set($s = "say ""hi""")$s') == 'say "hi"'
    assert render("#set($s = 'it''s')$s") == "it's"
    assert render('#set($s = "#if(true)yes#end")$s') == "yes"
    assert render(r'#set($s = "\u00e9")$s') == "é"


def test_list_map_and_range_literals() -> None:
    assert render("#set($l = [1, 'two', [3]])$l $l.size()") == "[1, two, [3]] 3"
    assert render("#set($m = {'a': 1, \"b\": [2]})$m.b $m.keySet()") == "[2] [a, b]"
    assert render("$r", r=None) == "$r"
    assert render("#set($r = [3..0])#set($e = [])$r $e.isEmpty()") == "[3, 2, 1, 0] true"


def test_method_on_null_renders_reference_text() -> None:
    assert render("$m.put('a', 1)", m={}) == "$m.put('a', 1)"  # put returns the (null) previous value
    assert render("$!m.put('a', 1)$m", m={}) == "{a=1}"
    assert render("$l.add(1) $l", l=[]) == "true [1]"


# ------------------------------------------------------------------------------------- Java methods


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("$s.replaceAll('o+', '0')", "f0 b0"),
        ("$s.replaceAll('(f)(o+)', '$2$1')", "oof boo"),
        ("$s.replaceFirst('o', 'O')", "fOo boo"),
        ("$s.replace('o', '')", "f b"),
        ("$s.toUpperCase()", "FOO BOO"),
        ("$s.toLowerCase()", "foo boo"),
        ("$s.contains('o b')", "true"),
        ("$s.split(' ')", "[foo, boo]"),
        ("$csv.split(',')", "[a, b]"),
        ("$s.length()", "7"),
        ("$s.substring(4)", "boo"),
        ("$s.substring(0, 3)", "foo"),
        ("$pad.trim()", "x"),
        ("$s.startsWith('foo')", "true"),
        ("$s.endsWith('x')", "false"),
        ("$s.indexOf('o')", "1"),
        ("$s.indexOf('z')", "-1"),
        ("$s.lastIndexOf('o')", "6"),
        ("$s.equals('foo boo')", "true"),
        ("$s.equalsIgnoreCase('FOO BOO')", "true"),
        ("$empty.isEmpty()", "true"),
        ("$s.matches('f.*o')", "true"),
        ("$s.matches('f')", "false"),
        ("$s.charAt(4)", "b"),
        ("$s.concat('!')", "foo boo!"),
        ("$m.get('k')", "v"),
        ("$m.containsKey('k')", "true"),
        ("$m.values()", "[v]"),
        ("$m.entrySet()", "[k=v]"),
        ("$m.isEmpty()", "false"),
        ("$l.get(1)", "2"),
        ("$l.contains(3)", "true"),
        ("$l.indexOf(3)", "2"),
        ("$l.isEmpty()", "false"),
        ("$n.intValue()", "2"),
        ("$n.toString().length()", "3"),
        ("$l.nonexistent()", "$l.nonexistent()"),
    ],
)
def test_java_methods(expr: str, expected: str) -> None:
    variables = {
        "s": "foo boo",
        "m": {"k": "v"},
        "l": [1, 2, 3],
        "n": 2.5,
        "csv": "a,b,,",
        "pad": "  x ",
        "empty": "",
    }
    assert render(expr, **variables) == expected


def test_java_exception_is_a_render_error() -> None:
    with pytest.raises(TemplateRenderError):
        render("$s.substring(10)", s="abc")
    with pytest.raises(TemplateRenderError):
        render("$s.replaceAll('(', 'x')", s="abc")


# --------------------------------------------------------------------------------------------- $input


def test_input_json_and_path() -> None:
    body = '{"a": {"b": [1, 2]}, "s": "x", "items": [{"id": 1}, {"id": 2}]}'
    assert render_input("$input.json('$')", body) == '{"a":{"b":[1,2]},"s":"x","items":[{"id":1},{"id":2}]}'
    assert render_input("$input.json('$.a.b')|$input.json('$.s')|$input.json('$.nope')", body) == '[1,2]|"x"|'
    assert (
        render_input("$input.path('$.a.b').size() $input.path('$.s') $input.path('$.items[1].id')", body)
        == "2 x 2"
    )
    assert render_input("#foreach($i in $input.path('$.items'))$i.id#end", body) == "12"
    assert render_input("$input.path('$.items[*].id') $input.path('$..id')", body) == "[1, 2] [1, 2]"
    assert render_input("$input.path('$.nope')|$!input.path('$.nope')", body) == "$input.path('$.nope')|"


def test_input_empty_and_non_json_bodies() -> None:
    assert render_input("$input.json('$')|$input.body|", "") == "{}||"
    assert render_input("$input.path('$')|$input.json('$')", "a=1&b=2") == 'a=1&b=2|"a=1&b=2"'


def test_input_params_lookup_order_and_header_case() -> None:
    params = {"path": {"id": "p"}, "querystring": {"id": "q", "page": "2"}, "header": {"X-Id": "h"}}
    source = "$input.params('id') $input.params('page') $input.params('x-id') [$input.params('none')] $input.params()"
    assert (
        render_input(source, "", **params)
        == "p 2 h [] {path={id=p}, querystring={id=q, page=2}, header={X-Id=h}}"
    )


def test_input_variable_python_interface() -> None:
    variable = InputVariable('{"a": [1]}', {"path": {}, "querystring": {"q": "1"}, "header": {"H": "v"}})
    assert variable.body == '{"a": [1]}'
    assert variable.json("$.a") == "[1]"
    assert variable.path("$.a") == [1]
    assert variable.params("h") == "v"
    assert variable.params() == {"path": {}, "querystring": {"q": "1"}, "header": {"H": "v"}}


def test_invalid_jsonpath_is_a_render_error() -> None:
    with pytest.raises(TemplateRenderError):
        render_input("$input.path('$.a[')", "{}")


# ---------------------------------------------------------------------------------------------- $util


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ('$util.escapeJavaScript("it\'s")', "it\\'s"),
        ("$util.escapeJavaScript($mixed)", 'a\\"b\\\\c\\/d'),
        ("$util.escapeJavaScript($nl)", "\\n\\t\\u0001\\u00E9\\uD83D\\uDE00"),
        ('$util.escapeJavaScript("it\'s").replaceAll("\\\\\'","\'")', "it's"),
        ("$util.parseJson('{\"a\":1}').a", "1"),
        ("$util.parseJson('[1, {\"b\": true}]')", "[1, {b=true}]"),
        ("$util.urlEncode('a b&c=d/é~*')", "a+b%26c%3Dd%2F%C3%A9%7E*"),
        ("$util.urlDecode('a+b%26c')", "a b&c"),
        ("$util.base64Encode('hello')", "aGVsbG8="),
        ("$util.base64Decode('aGVsbG8=')", "hello"),
        ("$util.escapeJavaScript($missing)", "$util.escapeJavaScript($missing)"),
        ("$util.nope('x')", "$util.nope('x')"),
    ],
)
def test_util(call: str, expected: str) -> None:
    assert render(call, util=UTIL, nl="\n\t\x01é😀", mixed='a"b\\c/d') == expected


def test_util_parse_json_rejects_invalid_json() -> None:
    with pytest.raises(TemplateRenderError):
        render("$util.parseJson('{nope')", util=UTIL)


# ------------------------------------------------------------------------------------ render_mapping


def test_render_mapping_context_stage_variables_and_overrides() -> None:
    template = Template.parse(
        "#set($context.responseOverride.status = 404)"
        "#set($context.responseOverride.header.X-Why = 'gone')"
        "#set($context.requestOverride.querystring.q = $stageVariables.env)"
        "$context.stage/$stageVariables.env/$stageVariables['env']"
    )
    context = {"stage": "prod"}
    output, overrides = render_mapping(
        template, body="", params={}, context=context, stage_variables={"env": "beta"}
    )
    assert output == "prod/beta/beta"
    assert overrides["responseOverride"] == {"header": {"X-Why": "gone"}, "status": 404}
    assert overrides["requestOverride"] == {"header": {}, "path": {}, "querystring": {"q": "beta"}}
    assert context == {"stage": "prod"}  # the caller's context is untouched


# ------------------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("#if($a)\nx", "#if has no matching #end at line 1"),
        ("ok\n  #end", "line 2, column 3"),
        ("#foreach($a $b)#end", "expected 'in'"),
        ("#set($a 1)", "expected '='"),
        ("#if($a == )#end", "line 1, column 11"),
        ("${a", "expected '}'"),
        ('#set($a = "x)', "unterminated string"),
        ("#* never closed", "unterminated"),
        ("#if($a)#else#else#end", "unexpected #else"),
        ("#set($a.b() = 1)", "#set needs a reference"),
    ],
)
def test_syntax_errors_report_position(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace("$", r"\$")):
        Template.parse(source)


# ------------------------------------------------------------------------------------ parse once, fast


def test_render_is_thread_safe_and_does_not_mutate_variables() -> None:
    template = Template.parse("#set($x = $n)#foreach($i in [1..50])$x#end")
    results: list[str] = []

    def work(n: int) -> None:
        for _ in range(50):
            results.append(template.render({"n": n}))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result == result[0] * 50 for result in results)
    variables: dict[str, object] = {"n": 1}
    template.render(variables)
    assert variables == {"n": 1}
