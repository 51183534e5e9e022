"""Templates are hostile: every one is bounded in time and output, ordinary ones render as before.

Each attack is timed with perf_counter. The machine running the tests is shared and noisy: a render
is bounded on the median of three tries, a check on the fastest of five (noise only ever adds time,
so the fastest try is the honest measure of what the check costs). The bounds are generous but far
below what the attacks cost unbounded (seconds to forever).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from workflow_core_module.engine import templates
from workflow_core_module.engine.templates import (
    MAX_RENDER_WORK,
    MAX_RENDERED_CHARS,
    MAX_TEMPLATE_CHARS,
    MAX_TEMPLATE_TOKENS,
    TemplateLimitError,
    TemplateRenderError,
    check_template,
    clear_compile_cache,
    count_code_tokens,
    is_template,
    render,
)

CHECK_SECONDS = 0.05    # check_template: "well under 50 ms"; the fastest of five tries
RENDER_SECONDS = 0.25   # render: the deadline is 50 ms; generous for a noisy two-core machine


def context() -> dict[str, Any]:
    return {
        "trigger": {"schedule_id": "s-1", "trigger": "api",
                    "context_data": {"channel": "#ops", "names": ["a", "b", "c"], "n": 5, "big": 10**8,
                                     "w": 100_000, "blank": ""}},
        "steps": [{"status": "completed", "output": {"status_code": 200, "body": {"ok": True, "id": 7}}}],
        "workflow": {"workflow_id": "wf-1", "name": "nightly"},
    }


def seconds_taken(action: Callable[[], Any], tries: int) -> list[float]:
    times = []
    for _ in range(tries):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return times


def median_seconds(action: Callable[[], Any], tries: int = 3) -> float:
    return statistics.median(seconds_taken(action, tries))


def timed_check(source: str) -> tuple[float, str | None]:
    answers: list[str | None] = []

    def once() -> None:
        clear_compile_cache()  # measure the real work, not the cache
        answers.append(check_template(source))

    return min(seconds_taken(once, 5)), answers[-1]


def timed_failure(source: str) -> tuple[float, TemplateRenderError]:
    errors: list[TemplateRenderError] = []

    def once() -> None:
        clear_compile_cache()
        with pytest.raises(TemplateRenderError) as caught:
            render(source, context())
        errors.append(caught.value)

    return min(seconds_taken(once, 5)), errors[-1]  # the fastest try: the work, not a busy machine's pauses


# ---- attacks -----------------------------------------------------------------------------------

TOO_EXPENSIVE = "is too expensive"
TOO_MUCH_OUTPUT = f"would produce more than {MAX_RENDERED_CHARS:,} characters"
BIG = "{% set big = 'x' * 200000 %}"

SLOW = "took longer than 50 ms"  # where the work budget and the clock race (macros are slow calls)

# (name, template, what the limit error must say (alternatives split by |), whether check_template
# sees it without running it)
ATTACKS: list[tuple[str, str, str, bool]] = [
    # big numbers: jinja2 folds constants while compiling, so even check_template used to hang here
    ("constant power", "{{ (10 ** 20000000) > 5 }}", "integer of more than 4,096 bits", True),
    ("power of a power", "{{ 9 ** (9 ** 9) }}", "integer of more than 4,096 bits", True),
    ("power chain", "{{ 9**9**9**9**9 }}", "integer of more than 4,096 bits", True),
    ("power from context", "{{ 10 ** trigger.context_data.big }}", "integer of more than 4,096 bits", False),
    ("squaring in a loop", "{% set ns = namespace(x=3) %}{% for i in range(100) %}{% set ns.x = ns.x * ns.x %}"
                           "{% endfor %}{{ ns.x }}", "integer of more than 4,096 bits", False),
    ("integer literal", "{{ " + "9" * 1300 + " }}", "integer of more than 4,096 bits", True),
    ("int with base 16", "{{ ('f' * 200000)|int(base=16) }}", "integer of more than 4,096 bits", False),
    ("from_bytes", "{{ (1).from_bytes(('x' * 60000).encode(), 'big') }}", "integer of more than 4,096 bits", False),
    ("round to huge precision", "{{ 5|round(-1000000000) }}", "rounding to more than 400 digits", True),
    ("round floor", "{{ 1.5|round(1000000000, 'floor') }}", "rounding to more than 400 digits", True),
    # repetition and padding
    ("string repetition", "{{ 'x' * 10**9 }}", "a repetition would be more than", True),
    ("list repetition", "{{ [1] * 10**8 }}", "a repetition would be more than", True),
    ("repetition from context", "{{ 'x' * trigger.context_data.big }}", "a repetition would be more than", False),
    ("ljust", "{{ 'x'.ljust(10**8) }}", "ljust() would be more than", True),
    ("ljust from context", "{{ 'x'.ljust(trigger.context_data.big) }}", "ljust() would be more than", False),
    ("rjust", "{{ 'x'.rjust(trigger.context_data.big) }}", "rjust() would be more than", False),
    ("str center", "{{ 'x'.center(10**8) }}", "center() would be more than", True),
    ("zfill", "{{ 'x'.zfill(trigger.context_data.big) }}", "zfill() would be more than", False),
    ("expandtabs", "{{ ('\t' * 1000).expandtabs(trigger.context_data.big) }}", "expandtabs() would be more than",
     False),
    ("center filter", "{{ 'x'|center(10**8) }}", "center would be more than", True),
    ("center filter from context", "{{ 'x'|center(trigger.context_data.big) }}", "center would be more than", False),
    ("indent", "{{ ('\n' * 60000)|indent(1000) }}", "indent would be more than", False),
    ("wordwrap", "{{ ('a ' * 30000)|wordwrap(1, wrapstring='x' * 1000) }}", "wordwrap would be more than", False),
    ("to_bytes", "{{ (1).to_bytes(10**9, 'big') }}", "to_bytes() would be more than", True),
    ("encode", "{{ ('x' * 200000).encode('utf-32') }}", "encode() would be more than", False),
    ("translate", "{{ ('x' * 1000).translate({120: 'y' * 100000}) }}", "translate() would be more than", False),
    ("lipsum", "{{ lipsum(1000000) }}", "lipsum of more than", True),
    # formatting
    ("printf width, filter", "{{ '%0999999999d'|format(1) }}", "a formatted string would be more than", True),
    ("printf width, operator", "{{ '%0999999999d' % 1 }}", "a formatted string would be more than", True),
    ("printf precision", "{{ '%.999999999f' % 1.5 }}", "a formatted string would be more than", True),
    ("printf star width", "{{ '%*d' % (trigger.context_data.big, 1) }}", "a formatted string would be more than",
     False),
    ("printf key reused", "{% set s = 'x' * 100000 %}{{ ('%(a)s' * 1000) % {'a': s} }}",
     "a formatted string would be more than", False),
    ("str.format width", "{{ '{:>99999999}'.format(1) }}", "a formatted string would be more than", False),
    ("str.format nested width", "{{ '{:>{}}'.format(1, trigger.context_data.big) }}",
     "a formatted string would be more than", False),
    ("str.format repeated field", "{% set s = 'x' * 100000 %}{{ ('{0}' * 10000).format(s) }}",
     "a formatted string would be more than", False),
    ("format_map width", "{{ '{a:>99999999}'.format_map({'a': 1}) }}", "a formatted string would be more than",
     False),
    # growth from small input
    ("replace filter", "{% set s = 'x' * 1000 %}{{ s|replace('x', s) }}", "replace() would be more than", False),
    ("replace method", "{% set s = 'x' * 1000 %}{{ s.replace('x', s) }}", "replace() would be more than", False),
    ("replace doubling in a loop", "{% set ns = namespace(s='xx') %}{% for i in range(40) %}"
                                   "{% set ns.s = ns.s.replace('x', 'xx') %}{% endfor %}{{ ns.s|length }}",
     "replace() would be more than", False),
    ("join method", "{% set s = 'x' * 3000 %}{{ s.join(s[:100]) }}", "a join would be more than", False),
    ("join method, many items", "{% set s = 'x' * 60000 %}{{ s.join(s) }}",
     f"more than {MAX_RENDER_WORK:,} loop iterations", False),
    ("join filter", "{% set s = 'x' * 600 %}{{ range(1000)|join(s) }}", "a join would be more than", False),
    ("concatenation doubling", "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
                               "{% endfor %}{{ ns.s|length }}", "a concatenation would be more than", False),
    ("plus doubling", "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
                      "{% endfor %}{{ ns.s|length }}", "a concatenation would be more than", False),
    ("set accumulating", "{% set ns = namespace(s='') %}{% for i in range(10000) %}"
                         "{% set ns.s = ns.s ~ 'abcdefghij' * 100 %}{% endfor %}{{ ns.s|length }}",
     "more than 16,777,216 characters produced in total", False),
    ("range to list", "{{ range(10**8)|list }}", "a range of more than", True),
    ("batch with fill", "{{ [1]|batch(10**8, 'x')|list }}", "a repetition would be more than", True),
    ("slice", "{{ [1]|slice(10**8)|list|length }}", "slice into more than", True),
    ("sum of lists", "{{ range(5000)|batch(1)|sum(start=[])|length }}", "a sum of sequences", False),
    ("tojson indent", "{{ [[[[1]]]]|tojson(indent=10**8) }}", "a JSON indent of more than", True),
    # one object many times: small in memory, huge when printed or compared
    ("list aliasing", "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}"
                      "{% endfor %}{{ ns.l }}", "a list or dict would be more than", False),
    ("aliased lists compared", "{% set ns = namespace(a=[1], b=[1]) %}{% for i in range(60) %}"
                               "{% set ns.a = [ns.a, ns.a] %}{% set ns.b = [ns.b, ns.b] %}{% endfor %}"
                               "{{ ns.a == ns.b }}", "a list or dict would be more than", False),
    ("dict aliasing", "{% set ns = namespace(d={}) %}{% for i in range(60) %}{% set ns.d = dict(a=ns.d, b=ns.d) %}"
                      "{% endfor %}{{ ns.d|tojson }}", "a dict would be more than", False),
    ("namespace aliasing", "{% set ns = namespace(n=none) %}{% for i in range(60) %}"
                           "{% set ns.n = namespace(a=ns.n, b=ns.n) %}{% endfor %}{{ ns.n }}",
     "a namespace would be more than", False),
    ("cycler aliasing", "{% set ns = namespace(c=[1]) %}{% for i in range(60) %}"
                        "{% set ns.c = cycler(ns.c, ns.c).items %}{% endfor %}{{ ns.c }}",
     "a cycler would be more than", False),
    ("fromkeys", BIG + "{{ {}.fromkeys(range(10000), big) }}", "fromkeys() would be more than", False),
    ("map default", BIG + "{{ ([''] * 1000)|map('default', big, true)|join }}", "the input of join would be more than",
     False),
    ("map default to a list", BIG + "{{ ([''] * 1000)|map('default', big, true)|list|length }}",
     "the input of list would be more than", False),
    ("loop.cycle", "{% for i in range(10000) %}{{ loop.cycle('x' * 100000, 'y') }}{% endfor %}", TOO_MUCH_OUTPUT,
     False),
    # loops and calls
    ("nested loops", "{% for a in range(100000) %}{% for b in range(100000) %}{{ a }}{% endfor %}{% endfor %}",
     "a range of more than", True),
    ("nested loops from context", "{% for a in range(trigger.context_data.w) %}"
                                  "{% for b in range(trigger.context_data.w) %}{% endfor %}{% endfor %}",
     "a range of more than", False),
    ("nested loops without output", "{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}",
     f"more than {MAX_RENDER_WORK:,} loop iterations and calls", False),
    ("loops nested too deep", "{% for i in [1] %}" * 4 + "x" + "{% endfor %}" * 4, "loops nested more than 3 deep",
     True),
    ("macro fan-out", "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
     f"{TOO_EXPENSIVE}|{SLOW}", False),
    ("wide macro fan-out", "{% macro f(n) %}{% if n %}{% for i in range(9) %}{{ f(n-1) }}{% endfor %}{% endif %}"
                           "{% endmacro %}{{ f(8) }}", f"more than {MAX_RENDER_WORK:,} loop iterations|{SLOW}", False),
    ("endless recursion", "{% macro f(n) %}{{ f(n+1) }}{% endmacro %}{{ f(0) }}", "calls nested more than 32 deep",
     False),
    ("recursive loop", "{% for x in range(10000) recursive %}{% if x < 2 %}{{ loop(range(10000)) }}{% endif %}"
                       "{% endfor %}", f"{TOO_EXPENSIVE}|{SLOW}", False),
    ("self block", "{% block b %}{{ self.b() }}{{ self.b() }}{% endblock %}", "calls nested more than 32 deep", False),
    ("caller fan-out", "{% macro f() %}{{ caller() }}{{ caller() }}{% endmacro %}"
                       "{% macro g(n) %}{% if n %}{% call f() %}{{ g(n-1) }}{% endcall %}{% endif %}{% endmacro %}"
                       "{{ g(40) }}", f"{TOO_EXPENSIVE}|{SLOW}", False),
    ("filter block in a loop", "{% for i in range(10000) %}{% filter upper %}{{ 'x' * 200000 }}{% endfilter %}"
                               "{% endfor %}", TOO_MUCH_OUTPUT, False),
    ("loop body text in a macro", "{% macro f() %}{% for i in range(10000) %}" + "y" * 7000 + "{% endfor %}"
                                  "{% endmacro %}{{ f()|length }}", "characters produced in total", False),
    ("repetition in a loop", "{% for i in range(10000) %}{{ 'x' * 100000 }}{% endfor %}", TOO_MUCH_OUTPUT, False),
    ("upper in a loop", "{% for i in range(10000) %}{{ ('x' * 200000).upper()|length }}{% endfor %}",
     "characters produced in total", False),
    ("sort of many", "{{ range(10000)|map('string')|sort|join }}", f"more than {MAX_RENDER_WORK:,}|{SLOW}", False),
    ("groupby of many", "{{ (range(9000)|list * 3)|groupby('real')|length }}",
     f"more than {MAX_RENDER_WORK:,} loop iterations", False),
    ("sort of many items", "{{ ((range(3000)|map('string')|list) * 9)|sort|length }}",
     f"more than {MAX_RENDER_WORK:,} loop iterations", False),
    ("unique of many", "{{ ('x,' * 40000).split(',')|unique|list|length }}",
     f"more than {MAX_RENDER_WORK:,} loop iterations", False),
    ("deeply nested list printed", "{% set ns = namespace(l=[]) %}{% for i in range(2000) %}{% set ns.l = [ns.l] %}"
                                   "{% endfor %}{{ ns.l }}", f"nested too deeply|{SLOW}", False),
    ("deeply nested lists compared", "{% set ns = namespace(a=[], b=[]) %}{% for i in range(2000) %}"
                                     "{% set ns.a = [ns.a] %}{% set ns.b = [ns.b] %}{% endfor %}{{ ns.a == ns.b }}",
     f"nested too deeply|{SLOW}", False),
    # slow filters on big input
    ("wordwrap of much", "{{ ('ab ' * 12000)|wordwrap(5) }}", "the input of wordwrap would be more than 32,768", False),
    ("urlize of much", "{{ ('www.x.com ' * 2000)|urlize }}", "the input of urlize would be more than 16,384", False),
    ("striptags", "{{ ('<a>' * 80000)|striptags }}", "the input of striptags would be more than", False),
    ("urlize", "{{ ('www.x.com ' * 20000)|urlize }}", "the input of urlize would be more than", False),
    ("title", "{{ ('a b ' * 30000)|title }}", "the input of title would be more than", False),
    ("pprint", "{{ range(5000)|list|pprint }}", "the input of pprint would be more than", False),
    # output
    ("output over 64 KiB", "{% for i in range(100) %}{{ 'x' * 1000 }}{% endfor %}", TOO_MUCH_OUTPUT, False),
    ("printed dict items", "{% set d = dict(a='x' * 200000) %}{{ d.items()|list|string }}", TOO_MUCH_OUTPUT, False),
    # the source itself
    ("long source", "{{ 1 }}" + "x" * MAX_TEMPLATE_CHARS, "is too long", True),
    ("many tokens", "{{ 1" + "+1" * 1000 + " }}", "is too long", True),
    ("deep parentheses", "{{ " + "(" * 150 + "1" + ")" * 150 + " }}", "nested", True),
    ("deep attribute chain", "{{ x" + ".a" * 60 + " }}", "nested more than 50 levels deep", True),
    ("deep ifs", "{% if 1 %}" * 50 + "x" + "{% endif %}" * 50, "nested more than 50 levels deep", True),
]


@pytest.mark.parametrize(("name", "source", "says", "seen_on_write"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_is_refused_quickly(name: str, source: str, says: str, seen_on_write: bool,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    check_seconds, problem = timed_check(source)
    assert check_seconds < CHECK_SECONDS, f"check_template took {check_seconds * 1000:.1f} ms"
    if seen_on_write:
        assert problem is not None and any(part in problem for part in says.split("|")), problem
    render_seconds, error = timed_failure(source)
    assert render_seconds < RENDER_SECONDS, f"render took {render_seconds * 1000:.1f} ms"
    assert isinstance(error, TemplateLimitError), error  # refused in time (by its limit, or the deadline)
    # The limit meant for this attack stops it on its own: with the deadline out of reach, a loaded
    # machine cannot make the deadline answer first.
    monkeypatch.setattr(templates, "RENDER_DEADLINE_SECONDS", 30.0)
    _, error = timed_failure(source)
    assert any(part in str(error) for part in says.split("|")), str(error)


def test_a_limit_error_names_the_template_and_the_limit() -> None:
    with pytest.raises(TemplateLimitError) as caught:
        render({"body": {"text": "{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}"}},
               context())
    message = str(caught.value)
    assert message.startswith("template '{% for a in range(9999) %}")
    assert f"is too expensive: more than {MAX_RENDER_WORK:,} loop iterations and calls" in message
    assert isinstance(caught.value, TemplateRenderError) and isinstance(caught.value, ValueError)


def test_a_hostile_template_that_only_runs_slowly_hits_the_deadline() -> None:
    # Nothing here is big or counted as work (operators are not), so only the clock stops it.
    source = "{% for a in range(9000) %}" + "{% set x = (a * 3 + 1) // 2 - a % 7 %}" * 12 + "{% endfor %}"
    seconds, error = timed_failure(source)
    assert seconds < RENDER_SECONDS
    assert isinstance(error, TemplateLimitError)
    assert any(limit in str(error) for limit in ("took longer than 50 ms", "loop iterations and calls"))


def test_check_template_never_lets_recursion_escape() -> None:
    for source in ("{{ " + "(" * 4000 + " }}", "{{ " + "[" * 4000 + " }}", "{{ " + "-" * 4000 + "1 }}",
                   "{{ f(" * 1500 + " }}", "{% if 1 %}" * 2000, "{{ " + "not " * 1500 + "1 }}",
                   "{{ " + "9" * 5000 + " }}"):
        seconds, problem = timed_check(source)
        assert problem is not None, source[:40]
        assert seconds < CHECK_SECONDS, (source[:40], seconds)
        with pytest.raises(TemplateRenderError):
            render(source, context())


def test_includes_and_imports_are_refused_on_write() -> None:
    for source in ("{% include 'x' %}", "{% import 'x' as y %}", "{% from 'x' import y %}", "{% extends 'x' %}"):
        problem = check_template(source)
        assert problem is not None and "is not available" in problem
        with pytest.raises(TemplateRenderError):
            render(source, context())


def test_internal_filters_cannot_be_called() -> None:
    assert "No filter named '_wf_loop'" in (check_template("{{ [1]|_wf_loop }}") or "")


# ---- the source limits -------------------------------------------------------------------------

def test_the_token_limit_is_exact() -> None:
    at_limit = "x{{ a }}" * (MAX_TEMPLATE_TOKENS // 4)          # 4 tokens each: text, {{, a, }}
    assert check_template(at_limit) is None
    assert render(at_limit, {"a": 1}) == "x1" * (MAX_TEMPLATE_TOKENS // 4)
    over = at_limit + "x"
    assert "more than 400 tokens" in (check_template(over) or "")
    with pytest.raises(TemplateLimitError):
        render(over, {"a": 1})


def test_the_source_length_limit_is_exact() -> None:
    at_limit = "{{ a }}" + "x" * (MAX_TEMPLATE_CHARS - 7)
    assert len(at_limit) == MAX_TEMPLATE_CHARS and check_template(at_limit) is None
    assert render(at_limit, {"a": 1}) == "1" + "x" * (MAX_TEMPLATE_CHARS - 7)
    assert "too long" in (check_template(at_limit + "x") or "")
    with pytest.raises(TemplateLimitError):
        render(at_limit + "x", {"a": 1})


def test_the_largest_template_checks_quickly() -> None:
    # The costliest shapes to compile, repeated up to the token limit: each still compiles.
    for unit in ("{{a,b}}", "{{a~b}}", "{{a*b}}", "{% for x in a %}{{loop.index}}{% endfor %}", "{{a is defined}}",
                 "{{'%s'%a}}", "{% if a %}b{% endif %}", "{{ f(a, b=c)|d(e) }}"):
        source = unit * (MAX_TEMPLATE_TOKENS // count_code_tokens(unit))
        assert MAX_TEMPLATE_TOKENS - count_code_tokens(unit) < count_code_tokens(source) <= MAX_TEMPLATE_TOKENS
        seconds, problem = timed_check(source)
        assert problem is None, problem
        assert seconds < CHECK_SECONDS, (unit, seconds)


# ---- output ------------------------------------------------------------------------------------

def test_output_just_under_the_cap_is_allowed_and_just_over_is_refused() -> None:
    exact = f"{{{{ 'x' * {MAX_RENDERED_CHARS} }}}}"
    assert render(exact, {}) == "x" * MAX_RENDERED_CHARS
    with pytest.raises(TemplateLimitError, match="would produce more than 65,536 characters"):
        render(f"{{{{ 'x' * {MAX_RENDERED_CHARS + 1} }}}}", {})
    # The same, built from many pieces and from literal text in a loop.
    assert len(render("{% for i in range(64) %}{{ s }}{% endfor %}", {"s": "y" * 1024})) == MAX_RENDERED_CHARS
    with pytest.raises(TemplateLimitError):
        render("{% for i in range(64) %}{{ s }}{% endfor %}!", {"s": "y" * 1024})
    text = "z" * 1000
    assert len(render("{% for i in range(65) %}" + text + "{% endfor %}", {})) == 65_000
    with pytest.raises(TemplateLimitError):
        render("{% for i in range(66) %}" + text + "{% endfor %}", {})


def test_the_output_cap_is_per_field() -> None:
    field = f"{{{{ 'x' * {MAX_RENDERED_CHARS} }}}}"
    rendered = render({"a": field, "b": [field, field]}, {})
    assert rendered == {"a": "x" * MAX_RENDERED_CHARS, "b": ["x" * MAX_RENDERED_CHARS] * 2}


# ---- the budget is per render call, shared by its fields, never between calls or threads --------

LOOP_6000 = "{% for i in range(6000) %}{% endfor %}done"


def test_one_budget_covers_all_the_fields_of_a_value() -> None:
    assert render({"a": LOOP_6000}, {}) == {"a": "done"}
    assert render({"b": [LOOP_6000]}, {}) == {"b": ["done"]}
    with pytest.raises(TemplateLimitError, match="loop iterations and calls"):
        render({"a": LOOP_6000, "b": [LOOP_6000]}, {})


def test_consecutive_renders_do_not_share_a_budget() -> None:
    for _ in range(3):
        assert render(LOOP_6000, {}) == "done"


def test_concurrent_renders_in_two_threads_do_not_share_a_budget() -> None:
    # Each render spends 6,000 + 2 units, half before and half after meeting the other thread:
    # one shared budget would need 12,004 of the 10,000.
    barrier = threading.Barrier(2)
    source = ("{% for i in range(3000) %}{% endfor %}{{ meet() }}"
              "{% for i in range(3000) %}{% endfor %}{{ meet() }}")
    results: dict[str, Any] = {}

    def meet() -> str:
        barrier.wait(timeout=10)
        return "."

    def worker(name: str) -> None:
        try:
            results[name] = render(source, {"meet": meet})
        except Exception as exc:  # reported below
            results[name] = exc
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert results == {"a": "..", "b": ".."}


def test_a_hostile_render_in_one_thread_leaves_the_other_alone() -> None:
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def meet() -> str:
        barrier.wait(timeout=10)
        return ""

    def worker(name: str, source: str) -> None:
        try:
            results[name] = render(source, {"meet": meet})
        except TemplateRenderError as exc:
            results[name] = exc

    hostile = "{{ meet() }}{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}"
    ordinary = "{{ meet() }}{% for i in range(9000) %}{% endfor %}fine"
    threads = [threading.Thread(target=worker, args=("hostile", hostile)),
               threading.Thread(target=worker, args=("ordinary", ordinary))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert isinstance(results["hostile"], TemplateLimitError)
    assert results["ordinary"] == "fine"


# ---- ordinary templates render exactly as before -----------------------------------------------

# What the engine used before the limits: the plain sandbox. Ordinary templates must agree with it.
_BEFORE = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)

ORDINARY = [
    "{{ trigger.context_data.channel }}",
    "{{ trigger.schedule_id }}",
    "{{ steps[0].output.status_code }}",
    "to {{ trigger.context_data.channel }}: {{ steps[0].output.body.ok }} ({{ workflow.name }})",
    "{{ steps[0].output.body }}",
    "{{ steps[0].output|tojson }}",
    "{{ trigger.context_data.names|join(', ') }}",
    "{{ trigger.context_data.names|join(', ')|upper }}",
    "{{ trigger.context_data.missing|default('none') }}",
    "{{ trigger.context_data.blank or 'empty' }}",
    "{% for name in trigger.context_data.names %}{{ loop.index }}. {{ name }}{% if not loop.last %}, "
    "{% endif %}{% endfor %}",
    "{% for name in trigger.context_data.names|reverse %}{{ name }}{% else %}none{% endfor %}",
    "{% for k, v in steps[0].output.body|dictsort %}{{ k }}={{ v }};{% endfor %}",
    "{{ trigger.context_data.n * 2 + 1 }} {{ trigger.context_data.n ** 3 }} {{ trigger.context_data.n / 2 }} "
    "{{ trigger.context_data.n // 2 }} {{ trigger.context_data.n % 3 }} {{ 2 - trigger.context_data.n }}",
    "{{ 'id-' ~ steps[0].output.body.id ~ '-' ~ trigger.context_data.n }}",
    "{{ 'a' + 'b' }} {{ [1, 2] + [trigger.context_data.n] }} {{ 'ab' * 3 }} {{ [0] * 3 }}",
    "{{ '%s-%05d' % (trigger.context_data.channel, trigger.context_data.n) }}",
    "{{ '{} and {:>4}'.format(trigger.context_data.channel, trigger.context_data.n) }}",
    "{{ '%s=%s'|format('n', trigger.context_data.n) }}",
    "{{ trigger.context_data.names|map('upper')|list }}",
    "{{ trigger.context_data.names|select('ne', 'b')|join }}",
    "{{ trigger.context_data.names|length }} {{ trigger.context_data.names|first }} "
    "{{ trigger.context_data.names|last }} {{ trigger.context_data.names|sort(reverse=true) }}",
    "{{ range(5)|sum }} {{ range(3)|list }} {{ range(10)|batch(3)|list }} {{ [3, 1, 2]|max }}",
    "{{ {'a': trigger.context_data.n, 'b': [1, 2]} }} {{ (trigger.context_data.n, 'x') }}",
    "{% set ns = namespace(total=0) %}{% for i in range(5) %}{% set ns.total = ns.total + i %}{% endfor %}"
    "{{ ns.total }}",
    "{% macro link(name, id=1) %}<{{ name }}#{{ id }}>{% endmacro %}{{ link('a') }}{{ link('b', id=2) }}",
    "{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}inside{% endcall %}",
    "{% for row in [[1, 2], [3]] %}{% for x in row %}{{ x }}{% endfor %};{% endfor %}",
    "{% for x in [3, 2, 1] recursive %}{{ x }}{% endfor %}",
    "{% filter upper %}shout {{ trigger.context_data.channel }}{% endfilter %}",
    "{% set greeting %}hello {{ workflow.name }}{% endset %}{{ greeting|title }}",
    "{{ 'a,b,,c'.split(',') }} {{ '  x '.strip() }} {{ 'ab'.center(6, '*') }} {{ 'x'.ljust(3, '.') }}",
    "{{ 'Hello World'|wordcount }} {{ 'hello world'|capitalize }} {{ 'abc'|replace('b', 'BB') }} "
    "{{ 'long text here'|truncate(9) }} {{ '<b>x</b>'|striptags }} {{ 'a\nb'|indent(2, true) }}",
    "{{ 12345678|filesizeformat }} {{ 3.14159|round(2) }} {{ '42'|int + 1 }} {{ -3|abs }}",
    "{{ trigger.context_data.channel is string }} {{ 4 is divisibleby 2 }} {{ none is none }}",
    "{{ dict(a=1)|tojson }} {{ lipsum(1, false, 5, 6)|wordcount }} {{ cycler('a', 'b').next() }}",
    "{{ '%d items'|format(3) }} {{ 'x' ~ 1 ~ none }}",
    "{% set j = joiner('|') %}{% for x in 'abc' %}{{ j() }}{{ x }}{% endfor %}",
    "{{ trigger.context_data.names[1:] }} {{ trigger.context_data.names[::-1] }}",
    "{{ 9**9**9 }}",  # jinja2's ** groups to the left: (9**9)**9, an ordinary 257-bit number
]


@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_templates_render_as_before(source: str) -> None:
    assert check_template(source) is None
    assert render(source, context()) == _BEFORE.from_string(source).render(context())


def test_values_are_walked_as_before() -> None:
    value = {"url": "https://x/{{ trigger.context_data.channel }}", "headers": {"X-N": "{{ trigger.context_data.n }}"},
             "body": {"items": ["{{ i }}" for i in range(3)] + [1, None, True, "plain {text}"], "n": 3}}
    assert render(value, {"i": 7, **context()}) == {
        "url": "https://x/#ops", "headers": {"X-N": "5"},
        "body": {"items": ["7", "7", "7", 1, None, True, "plain {text}"], "n": 3},
    }


def test_plain_strings_are_not_templates() -> None:
    assert not is_template("no braces { here }")
    assert render("x" * (MAX_TEMPLATE_CHARS * 2), {}) == "x" * (MAX_TEMPLATE_CHARS * 2)
    assert check_template("x" * (MAX_TEMPLATE_CHARS * 2)) is None


def test_a_missing_value_is_still_an_error() -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render("to {{ trigger.context_data.nowhere }}", context())
    assert "nowhere" in str(caught.value) and not isinstance(caught.value, TemplateLimitError)
    with pytest.raises(TemplateRenderError, match="undefined"):
        render("{{ missing }}", context())
    with pytest.raises(TemplateRenderError, match="undefined"):
        render("{% for x in missing %}{% endfor %}", context())


def test_the_sandbox_still_refuses_unsafe_access() -> None:
    for source in ("{{ ''.__class__.__mro__ }}", "{{ range.__globals__ }}", "{{ [].append(1) }}",
                   "{{ {}.update(a=1) }}", "{{ trigger.context_data.names.clear() }}"):
        with pytest.raises(TemplateRenderError, match="unsafe"):
            render(source, context())


def test_the_templates_own_mistakes_are_render_errors_not_crashes() -> None:
    for source, says in (("{{ 1 / 0 }}", "ZeroDivisionError"), ("{{ 'a' + 1 }}", "TypeError"),
                         ("{{ unclosed", "template"), ("{{ 4 is divisibleby 0 }}", "ZeroDivisionError")):
        with pytest.raises(TemplateRenderError, match=says):
            render(source, context())


def test_a_syntax_error_is_reported_on_write() -> None:
    assert (check_template("{{ unclosed") or "").startswith("template error:")
    assert check_template("{% for x in y %}") is not None


def test_ordinary_rendering_stays_cheap() -> None:
    value = {"url": "https://x/{{ trigger.context_data.channel }}", "body": {"n": "{{ steps[0].output.status_code }}"}}
    ctx = context()
    render(value, ctx)

    def batch() -> None:
        for _ in range(200):
            render(value, ctx)

    per_render = median_seconds(batch, tries=5) / 200
    assert per_render < 0.001, f"{per_render * 1e6:.0f} us per render"  # about 10-30 us on a quiet machine


def test_every_limit_is_documented() -> None:
    doc = templates.__doc__ or ""
    for name in ("MAX_TEMPLATE_CHARS", "MAX_TEMPLATE_TOKENS", "MAX_TEMPLATE_NESTING", "MAX_LOOP_NESTING",
                 "MAX_RENDERED_CHARS", "MAX_RENDER_WORK", "MAX_RANGE", "MAX_CALL_DEPTH", "MAX_VALUE_CHARS",
                 "MAX_INT_BITS", "MAX_RENDER_CHARS", "RENDER_DEADLINE_SECONDS"):
        value = getattr(templates, name)
        assert f"``{name}`` = {value:,}" in doc or f"``{name}`` = {value:g}" in doc, name
