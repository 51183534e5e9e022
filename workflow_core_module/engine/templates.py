"""String fields of a step are templates over `trigger` and `steps`, rendered in jinja2's sandbox.

``{{ trigger.schedule_id }}``, ``{{ trigger.context_data.channel }}``,
``{{ steps[0].output.status_code }}``. A reference to something that does not exist is an error
(StrictUndefined): a step never silently sends an empty value.

Every template is written by someone we do not trust (DESIGN.md, "Trust boundaries") and is
rendered on the event loop, so it is bounded in CPU and output. The limits, for docs/security.md:

``MAX_TEMPLATE_CHARS`` = 8,192
    characters of template source in one string field. Longer is refused on write
    (:func:`check_template`) and at run time.
``MAX_TEMPLATE_TOKENS`` = 400
    tokens of template code in one field (names, literals, operators, tag delimiters; a run of
    plain text between tags is one token). jinja2 compiles at about 20-40 us per token, so this
    keeps compiling one field (on write, or on first use) to about 15 ms of CPU.
``MAX_TEMPLATE_NESTING`` = 50
    levels of nested syntax (expressions inside expressions, blocks inside blocks); refused on write.
``MAX_LOOP_NESTING`` = 3
    ``{% for %}`` loops inside one another; refused on write.
``MAX_RENDERED_CHARS`` = 65,536
    characters one rendered field may produce; checked as the output grows.
``MAX_RENDER_WORK`` = 10,000
    loop iterations plus calls (macros, methods, globals) plus filter applications in one
    :func:`render` call (all the fields of the value together). A filter that goes through every
    item of a list (``sort``, ``join``, ``unique``, ``sum``...) counts each item (``groupby`` four).
``MAX_RANGE`` = 10,000
    items in one ``range(...)``.
``MAX_CALL_DEPTH`` = 32
    calls nested inside one another (a macro calling a macro...).
``MAX_VALUE_CHARS`` = 262,144
    characters in any one string, list or dict a template builds or prints (a repetition, a
    concatenation, a padded or formatted string, a joined list, ``tojson``...). A list's size is its
    printed size, so ``[x, x]`` counts ``x`` twice. Sizes are estimated *before* the value is built.
    Filters that run Python code per word or line take less: 65,536 characters (``indent``,
    ``title``, ``striptags``, ``urlencode``, ``xmlattr``), 32,768 (``wordwrap``), 16,384 (``urlize``,
    ``pprint``).
``MAX_INT_BITS`` = 4,096
    bits in an integer a template computes (``**``, ``*``, ``int(..., base)``); checked before
    computing a power or product.
``MAX_RENDER_CHARS`` = 16,777,216
    characters produced in total by one :func:`render` call: every string built along the way,
    every printed value and the text of loop bodies, counted as they are produced.
``RENDER_DEADLINE_SECONDS`` = 0.05
    wall-clock time of one :func:`render` call, compiling included; checked at every loop iteration,
    call, filter, test, operator, concatenation and formatted field.

How they are enforced: jinja2's ``ImmutableSandboxedEnvironment`` is subclassed so every arithmetic
operator goes through :meth:`_BoundedEnvironment.call_binop` (which also stops jinja2 from folding
constants while compiling), every call through :meth:`_BoundedEnvironment.call`, every ``str.format``
through a bounded formatter, and every filter, test and global through a wrapper. The parsed
template is rewritten before it is compiled so that each ``{% for %}`` iterates through a counting
generator and each ``~`` concatenation and each list, tuple or dict display is measured. The budget
lives in a per-render :class:`contextvars.ContextVar`, so concurrent renders never share it.

What these limits cannot bound: one operation on data that is already large (comparing or
printing two 10 MB step outputs) costs what that data costs; step outputs are the actions' to bound.
The deadline is wall-clock time, so a render caught in a long pause of the whole process (a garbage
collection, a starved CPU) can fail with it; ordinary renders take tens of microseconds.
"""

from __future__ import annotations

import itertools
import re
import time
import types
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, NamedTuple, NoReturn, cast

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.exceptions import SecurityError, TemplateAssertionError, TemplateSyntaxError
from jinja2.runtime import Context, LoopContext, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import Cycler, Joiner, Namespace, _PassArg, generate_lorem_ipsum, pass_context
from markupsafe import Markup

MAX_TEMPLATE_CHARS = 8_192
MAX_TEMPLATE_TOKENS = 400
MAX_TEMPLATE_NESTING = 50
MAX_LOOP_NESTING = 3
MAX_RENDERED_CHARS = 65_536
MAX_RENDER_WORK = 10_000
MAX_RANGE = 10_000
MAX_CALL_DEPTH = 32
MAX_VALUE_CHARS = 262_144
MAX_INT_BITS = 4_096
MAX_RENDER_CHARS = 16_777_216
RENDER_DEADLINE_SECONDS = 0.05

# Filters that run Python code per line, word or character take a smaller input (each about 10 ms
# of CPU at its cap on a slow machine).
_SLOW_FILTER_INPUT_CHARS = {"indent": 65_536, "title": 65_536, "striptags": 65_536, "urlencode": 65_536,
                            "xmlattr": 65_536, "wordwrap": 32_768, "urlize": 16_384, "pprint": 16_384}
_MAX_FORMAT_SPECS = 1_000        # % signs in one printf-style format string
_MAX_JSON_INDENT = 16
_MAX_ROUND_DIGITS = 400          # round(x, -10**9) would compute 10**(10**9)
_MAX_URLIZE_ATTR_CHARS = 256     # urlize(target=..., rel=...) is repeated for every link
_MAX_URLIZE_SCHEMES = 16
_MAX_LIPSUM_WORDS = 10_000
_STATIC_EVAL_CHARS = 4_096       # check_template computes constant values only up to this size


class TemplateRenderError(ValueError):
    pass


class TemplateLimitError(TemplateRenderError):
    """A template went over one of the limits above; `phrase` says which (``is too expensive: ...``)."""

    def __init__(self, phrase: str, source: str | None = None) -> None:
        self.phrase = phrase
        self.source = source
        where = "template" if source is None else f"template {_short(source)!r}"
        super().__init__(f"{where} {phrase}")


def _short(source: str, keep: int = 60) -> str:
    return source if len(source) <= keep else source[: keep - 1] + "…"


_TOO_MUCH_WORK = f"is too expensive: more than {MAX_RENDER_WORK:,} loop iterations and calls"
_TOO_SLOW = f"took longer than {RENDER_DEADLINE_SECONDS * 1000:g} ms"
_TOO_MUCH_TEXT = f"is too expensive: more than {MAX_RENDER_CHARS:,} characters produced in total"
_TOO_LONG_OUTPUT = f"would produce more than {MAX_RENDERED_CHARS:,} characters"
_TOO_DEEP = "is nested too deeply"


def _too_big(what: str, limit: int = MAX_VALUE_CHARS) -> str:
    return f"is too expensive: {what} would be more than {limit:,} characters"


def _int_too_big(what: str) -> str:
    return f"is too expensive: {what} would be an integer of more than {MAX_INT_BITS:,} bits"


# ---- the per-render budget ------------------------------------------------------------------

_now = time.perf_counter


class _Budget:
    """What one :func:`render` call may still spend. Limits are sticky: once one trips, the first
    error is kept and raised at the end even if some code in between swallowed it."""

    __slots__ = ("deadline", "work", "chars", "depth", "sizes", "error")

    def __init__(self) -> None:
        self.deadline = _now() + RENDER_DEADLINE_SECONDS
        self.work = MAX_RENDER_WORK
        self.chars = MAX_RENDER_CHARS
        self.depth = 0
        # id -> (printed size, the object): sizes of containers already measured, so a list built
        # from [x, x, x] is measured in time proportional to its distinct parts. Holding the object
        # keeps its id from being reused while the render runs.
        self.sizes: dict[int, tuple[int, Any]] = {}
        self.error: TemplateLimitError | None = None

    def fail(self, phrase: str) -> NoReturn:
        error = TemplateLimitError(phrase)
        if self.error is None:
            self.error = error
        raise error

    def tick(self) -> None:
        """One unit of work (a loop iteration, a call, a filter), and the deadline."""
        self.work -= 1
        if self.work < 0:
            self.fail(_TOO_MUCH_WORK)
        if _now() > self.deadline:
            self.fail(_TOO_SLOW)

    def clock(self) -> None:
        if _now() > self.deadline:
            self.fail(_TOO_SLOW)

    def spend(self, chars: int) -> None:
        self.chars -= chars
        if self.chars < 0:
            self.fail(_TOO_MUCH_TEXT)

    def too_big(self, what: str, limit: int = MAX_VALUE_CHARS) -> NoReturn:
        """Refuse a value over `limit`, naming the render's total when that is what ran short."""
        if limit < MAX_VALUE_CHARS and limit >= self.chars:
            self.fail(_TOO_MUCH_TEXT)
        self.fail(_too_big(what, limit))


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _budget() -> _Budget:
    # Outside render() (never in the engine) every hook gets a fresh budget: sizes are still checked.
    budget = _BUDGET.get()
    return budget if budget is not None else _Budget()


# ---- how big a value prints --------------------------------------------------------------------

_DICT_VIEWS: tuple[type[Iterable[Any]], ...] = (type({}.keys()), type({}.values()), type({}.items()))


def _int_chars(value: int) -> int:
    return (value.bit_length() * 1233 >> 12) + 2  # decimal digits (log10 2 ~ 1233/4096), sign


def _children(value: Any) -> Iterable[Any] | None:
    """What str(value) prints inside `value`, or None for a leaf."""
    if isinstance(value, (str, bytes, bytearray)):
        return None
    if isinstance(value, dict):
        return itertools.chain.from_iterable(value.items())
    if isinstance(value, (list, tuple, set, frozenset)) or isinstance(value, _DICT_VIEWS):
        return value
    if isinstance(value, Namespace):
        return itertools.chain.from_iterable(object.__getattribute__(value, "_Namespace__attrs").items())
    return None


def _leaf_chars(value: Any) -> int:
    kind = type(value)
    if kind is str or isinstance(value, str):
        return len(value) + 2
    if kind is int:
        return _int_chars(value)
    if isinstance(value, (bytes, bytearray)):
        return 4 * len(value) + 3
    if kind is float:
        return 24
    return 40  # None, bool, and objects whose repr does not show their contents (macros, loops...)


def _size(value: Any, budget: _Budget, limit: int = MAX_VALUE_CHARS, what: str = "a value") -> int:
    """About how many characters str(value) prints; fails as soon as that passes `limit`.

    A list holding one object many times is measured as printed (each time), yet in time
    proportional to its distinct parts; the walk is iterative (no recursion limit) and watches the
    deadline.
    """
    kind = type(value)
    if kind is str:
        size = len(value)
    elif kind is int:
        size = _int_chars(value)
    else:
        children = _children(value)
        size = _leaf_chars(value) if children is None else _walk(value, children, budget, limit, what)
    if size > limit:
        budget.too_big(what, limit)
    return size


def _flat_items_size(items: Any) -> int | None:
    """Printed size of items that are all strings or all ints, counted at C speed; else None."""
    kinds = set(map(type, items))
    if kinds <= {str}:
        return sum(map(len, items)) + 4 * len(items)
    if kinds <= {int}:
        return (sum(map(int.bit_length, items)) * 1233 >> 12) + 4 * len(items)
    return None


def _quick_size(value: Any, budget: _Budget, limit: int, what: str) -> int | None:
    """The size of a list, tuple or dict without walking it, when it can be had cheaply: refused at
    once when it has too many items to fit (each prints as at least 4 characters), counted at C
    speed when it is flat. None when it has to be walked."""
    if not isinstance(value, (list, tuple, dict)):
        return None
    if 4 * len(value) > limit:
        budget.too_big(what, limit)
    if isinstance(value, dict):
        keys, values = _flat_items_size(value.keys()), _flat_items_size(value.values())
        size = None if keys is None or values is None else keys + values + 4
    else:
        size = _flat_items_size(value)
    if size is not None:
        budget.sizes[id(value)] = (size + 4, value)
        return size + 4
    return None


def _walk(root: Any, children: Iterable[Any], budget: _Budget, limit: int, what: str) -> int:
    sizes = budget.sizes
    known = sizes.get(id(root))
    if known is not None:
        return known[0]
    quick = _quick_size(root, budget, limit, what)
    if quick is not None:
        return quick
    total = 4
    local: dict[int, int] = {}  # namespaces, valid for this walk only (they can change between walks)
    open_ids = {id(root)}
    stack: list[tuple[Any, Iterator[Any], int]] = [(root, iter(children), 0)]
    steps = 0
    while stack:
        node, items, start = stack[-1]
        for item in items:
            kind = type(item)
            if kind is str:
                total += len(item) + 4
            elif kind is int:
                total += _int_chars(item) + 2
            else:
                known = sizes.get(id(item))
                if known is not None:
                    total += known[0] + 2
                elif id(item) in local:
                    total += local[id(item)] + 2
                else:
                    grand = _children(item)
                    if grand is None:
                        total += _leaf_chars(item) + 2
                    elif id(item) in open_ids:
                        total += 7  # a cycle prints as [...]
                    elif (quick := _quick_size(item, budget, limit - total, what)) is not None:
                        total += quick + 2
                    else:
                        open_ids.add(id(item))
                        stack.append((item, iter(grand), total))
                        total += 4
                        break
            if total > limit:
                budget.too_big(what, limit)
            steps += 1
            if not steps & 1023:
                budget.clock()
        else:
            stack.pop()
            open_ids.discard(id(node))
            if isinstance(node, (list, tuple, dict)):  # never mutated in the sandbox (namespaces are)
                sizes[id(node)] = (total - start, node)
            else:
                local[id(node)] = total - start
    return total


def _remember(value: Any, size: int, budget: _Budget) -> Any:
    if isinstance(value, (list, tuple, dict)):
        budget.sizes[id(value)] = (size, value)
    return value


def _text_chars(value: Any, budget: _Budget, limit: int, what: str) -> int:
    """Characters str(value) gives (exact for strings)."""
    return len(value) if isinstance(value, str) else _size(value, budget, limit, what)


def _room(budget: _Budget) -> int:
    return min(MAX_VALUE_CHARS, max(budget.chars, 0))


def _produced(value: Any, budget: _Budget, what: str) -> Any:
    """Account for a string just built (its size was estimated before building it)."""
    if isinstance(value, (str, bytes)):
        if len(value) > MAX_VALUE_CHARS:
            budget.too_big(what)
        budget.spend(len(value))
    return value


def _spend_work(units: int, budget: _Budget) -> None:
    """Work for going through `units` items at once (checked before going through them)."""
    budget.work -= units
    if budget.work < 0:
        budget.fail(_TOO_MUCH_WORK)


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


# ---- operators ---------------------------------------------------------------------------------

def _repeat_size(seq: Any, times: int, budget: _Budget) -> int:
    if times <= 0:
        return 0
    limit = _room(budget)
    unit = len(seq) if isinstance(seq, (str, bytes)) else _size(seq, budget, limit, "a repetition")
    if unit and times > limit // unit:
        budget.too_big("a repetition", limit)
    return unit * times


def _mul(left: Any, right: Any, budget: _Budget) -> Any:
    if _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
            budget.fail(_int_too_big("a product"))
        return left * right
    for seq, times in ((left, right), (right, left)):
        if _is_int(times) and isinstance(seq, (str, bytes, list, tuple)):
            size = _repeat_size(seq, times, budget)
            result = left * right
            budget.spend(size if isinstance(seq, (str, bytes)) else len(result))
            return _remember(result, size, budget)
    return left * right


def _pow(left: Any, right: Any, budget: _Budget) -> Any:
    if _is_int(left) and _is_int(right) and right > 0 and left not in (0, 1, -1):
        if (left.bit_length() - 1) * right > MAX_INT_BITS or right > MAX_INT_BITS:
            budget.fail(_int_too_big("a power"))
        result = left**right
        if result.bit_length() > MAX_INT_BITS:
            budget.fail(_int_too_big("a power"))
        return result
    return left**right


def _add(left: Any, right: Any, budget: _Budget) -> Any:
    if isinstance(left, str) and isinstance(right, str):
        if len(left) + len(right) > _room(budget):
            budget.too_big("a concatenation", _room(budget))
        return _produced(left + right, budget, "a concatenation")
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        limit = _room(budget)
        size = _size(left, budget, limit, "a concatenation") + _size(right, budget, limit, "a concatenation")
        if size > limit:
            budget.too_big("a concatenation", limit)
        # list + tuple raises TypeError, as it does unbounded: add them as the untyped values they are
        result = cast(Any, left) + right
        budget.spend(len(result))
        return _remember(result, size, budget)
    return left + right


# printf-style: %[(key)][flags][width|*][.precision|*][length]conversion
_PRINTF_SPEC = re.compile(r"%(?:\([^()]{0,1000}\))?[#0 +\-]*(\*|\d*)(?:\.(\*|\d*))?[hlL]?")
_PRINTF_LONG_KEY = re.compile(r"%\((?![^()]{0,1000}\))")


def _printf_size(fmt: str, values: Any, budget: _Budget) -> int:
    """Upper bound of len(fmt % values), failing before anything big is built."""
    limit = _room(budget)
    if fmt.count("%") > _MAX_FORMAT_SPECS:
        budget.fail(f"is too expensive: a format string with more than {_MAX_FORMAT_SPECS:,} % signs")
    if _PRINTF_LONG_KEY.search(fmt):
        budget.fail("is too expensive: a format key longer than 1,000 characters")
    if isinstance(values, dict):
        items: Iterable[Any] = values.values()
    elif isinstance(values, tuple):
        items = values
    else:
        items = (values,)
    widest = 0
    for item in items:
        widest = max(widest, 330 if isinstance(item, float) else _text_chars(item, budget, limit, "a formatted value"))
    size = len(fmt)
    for match in _PRINTF_SPEC.finditer(fmt):
        size += widest
        for number in match.groups():
            if number == "*":
                size += max((v for v in items if _is_int(v)), default=0)
            elif number:
                size += int(number) if len(number) < 10 else limit + 1
        if size > limit:
            budget.too_big("a formatted string", limit)
    return size


def _mod(left: Any, right: Any, budget: _Budget) -> Any:
    if isinstance(left, (str, bytes)):
        fmt = left if isinstance(left, str) else left.decode("latin-1")
        _printf_size(fmt, right, budget)
        return _produced(left % right, budget, "a formatted string")
    return left % right


_BINOPS: dict[str, Callable[[Any, Any, _Budget], Any]] = {"*": _mul, "**": _pow, "+": _add, "%": _mod}


# ---- str.format ----------------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")


class _BoundedFormatter(SandboxedFormatter):
    """str.format / format_map: every field is measured before it is formatted."""

    def __init__(self, env: Any, budget: _Budget, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._budget = budget
        self._chars = 0

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:
            _size(value, self._budget, _room(self._budget), "a formatted value")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = self._budget
        budget.clock()
        limit = _room(budget)
        width = 0
        for number in _DIGITS.findall(format_spec):
            width += int(number) if len(number) < 10 else limit + 1
        size = width + (330 if isinstance(value, float) else _text_chars(value, budget, limit, "a formatted value"))
        if self._chars + size > limit:
            budget.too_big("a formatted string", limit)
        result = super().format_field(value, format_spec)
        self._chars += len(result)
        budget.spend(len(result))
        return result


class _BoundedEscapeFormatter(_BoundedFormatter, SandboxedEscapeFormatter):
    pass


# ---- the environment -----------------------------------------------------------------------

def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _width_check(what: str) -> Callable[[Any, tuple[Any, ...], dict[str, Any], _Budget], None]:
    def check(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
        width = _arg(args, kwargs, 0, "width")
        if _is_int(width) and width > _room(budget):
            budget.too_big(what, _room(budget))
    return check


def _expandtabs_check(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    tabsize = _arg(args, kwargs, 0, "tabsize", 8)
    if _is_int(tabsize) and tabsize > 0:
        tabs = owner.count("\t" if isinstance(owner, str) else b"\t")
        if tabs and len(owner) + tabs * tabsize > _room(budget):
            budget.too_big("expandtabs()", _room(budget))


def _replace_size(text: Any, old: Any, new: Any, count: Any, budget: _Budget) -> None:
    if not (isinstance(old, (str, bytes)) and isinstance(new, (str, bytes)) and type(old) is type(new)):
        return
    if len(new) <= len(old):
        return
    hits = text.count(old) if old else len(text) + 1
    if _is_int(count) and 0 <= count < hits:
        hits = count
    if len(text) + hits * (len(new) - len(old)) > _room(budget):
        budget.too_big("replace()", _room(budget))


def _replace_check(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    _replace_size(owner, _arg(args, kwargs, 0, "old"), _arg(args, kwargs, 1, "new"),
                  _arg(args, kwargs, 2, "count", -1), budget)


def _join_size(separator: Any, items: list[Any], budget: _Budget) -> None:
    limit = _room(budget)
    size = _text_chars(separator, budget, limit, "a join") * max(len(items) - 1, 0)
    for item in items:
        size += _text_chars(item, budget, limit, "a join")
        if size > limit:
            budget.too_big("a join", limit)
    if size > limit:
        budget.too_big("a join", limit)


def _translate_check(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    table = _arg(args, kwargs, 0, "table")
    if isinstance(table, dict):
        values: Iterable[Any] = table.values()
    elif isinstance(table, (list, tuple)):
        values = table
    else:
        return
    _spend_work(len(values), budget)  # type: ignore[arg-type]
    longest = max((len(v) for v in values if isinstance(v, (str, bytes))), default=1)
    if len(owner) * longest > _room(budget):
        budget.too_big("translate()", _room(budget))


def _encode_check(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    if 4 * len(owner) > _room(budget):
        budget.too_big("encode()", _room(budget))


def _to_bytes_check(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    length = _arg(args, kwargs, 0, "length", 1)
    if _is_int(length) and length > _room(budget):
        budget.too_big("to_bytes()", _room(budget))


# Methods of str, bytes and int that can build something much bigger than what they are given.
_METHOD_CHECKS: dict[str, Callable[[Any, tuple[Any, ...], dict[str, Any], _Budget], None]] = {
    "center": _width_check("center()"),
    "ljust": _width_check("ljust()"),
    "rjust": _width_check("rjust()"),
    "zfill": _width_check("zfill()"),
    "expandtabs": _expandtabs_check,
    "replace": _replace_check,
    "translate": _translate_check,
    "encode": _encode_check,
    "to_bytes": _to_bytes_check,
}
_TEXT_OWNERS = (str, bytes, bytearray, int, float)
# Methods whose result is a new container (measured after it is built).
_BUILDING_METHODS = frozenset({"split", "rsplit", "splitlines", "partition", "rpartition", "fromkeys", "copy"})


def _paced(items: Iterator[Any], budget: _Budget) -> Iterator[Any]:
    """A lazy filter's items (map, select, batch...), watching the deadline as whoever consumes
    them (a loop, list(), str.join in C...) draws them out."""
    for count, item in enumerate(items):
        if not count & 63 and _now() > budget.deadline:
            budget.fail(_TOO_SLOW)
        yield item


def _counted(iterable: Any, budget: _Budget, chars: int) -> Iterator[Any]:
    """The items of a loop, one unit of work each, plus the text its body writes each time."""
    for item in iterable:
        budget.work -= 1
        if budget.work < 0:
            budget.fail(_TOO_MUCH_WORK)
        if chars:
            budget.spend(chars)
        if _now() > budget.deadline:
            budget.fail(_TOO_SLOW)
        yield item


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with every operator, call and str.format measured against the render's budget."""

    # Every operator is intercepted: results are checked before they are built, and jinja2 does
    # not fold intercepted operators into constants while compiling (nodes.BinExpr.as_const).
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.clock()
        bounded = _BINOPS.get(operator)
        if bounded is not None:
            return bounded(left, right, budget)
        return self.binop_table[operator](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: B902
        budget = _budget()
        budget.tick()
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        owner: Any = None
        name = ""
        if type(__obj) is types.BuiltinMethodType:
            owner = __obj.__self__
            name = __obj.__name__
            if isinstance(owner, _TEXT_OWNERS):
                if name == "join" and args and isinstance(owner, (str, bytes)):
                    items = args[0] if isinstance(args[0], list) else list(args[0])
                    _spend_work(len(items), budget)
                    _join_size(owner, items, budget)
                    args = (items,) + args[1:]
                else:
                    check = _METHOD_CHECKS.get(name)
                    if check is not None:
                        check(owner, args, kwargs, budget)
        elif type(__obj) is LoopContext and args:  # loop(children) in a recursive loop
            args = (_counted(args[0], budget, 0),) + args[1:]
        if budget.depth >= MAX_CALL_DEPTH:
            budget.fail(f"is too expensive: calls nested more than {MAX_CALL_DEPTH} deep")
        budget.depth += 1
        try:
            result = __context.call(__obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        kind = type(result)
        if kind is str or kind is Markup or kind is bytes:
            if (owner is None or isinstance(owner, _TEXT_OWNERS)) and result is not owner \
                    and not _is_one_of(result, args):
                _produced(result, budget, "a call's result")
        elif kind is int:
            if result.bit_length() > MAX_INT_BITS and name in ("from_bytes", "as_integer_ratio"):
                budget.fail(_int_too_big(f"{name}()"))
        elif name in _BUILDING_METHODS:
            _size(result, budget, _room(budget), f"{name}()")
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
            "format", "format_map"
        ):
            return None
        text: Any = value.__self__
        if not isinstance(text, str):
            return None
        is_format_map = value.__name__ == "format_map"
        env = self

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            budget = _budget()
            if isinstance(text, Markup):
                formatter: _BoundedFormatter = _BoundedEscapeFormatter(env, budget, escape=text.escape)
            else:
                formatter = _BoundedFormatter(env, budget)
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs = args[0]
                args = ()
            return type(text)(formatter.vformat(text, args, kwargs))

        bounded_format.__name__ = value.__name__
        return bounded_format


def _finalize(value: Any) -> Any:
    """Every {{ value }} passes here before it is printed."""
    kind = type(value)
    if kind is str:
        budget = _BUDGET.get()
        if budget is not None:
            budget.spend(len(value))
        return value
    if kind is int or kind is float or kind is bool or value is None:
        return value
    budget = _budget()
    budget.spend(_size(value, budget, _room(budget), "a printed value"))
    return value


# optimized=False: jinja2's constant folder would re-walk every subtree at every level while
# compiling, and with operators and filters intercepted there is next to nothing left to fold.
_ENV = _BoundedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=_finalize, optimized=False)


# ---- filters, tests and globals ------------------------------------------------------------------

# Filters that print their input (str(), escaping, JSON...): the input must be printable.
_PRINTING_FILTERS = frozenset({
    "capitalize", "center", "e", "escape", "filesizeformat", "forceescape", "format", "indent", "lower",
    "pprint", "replace", "safe", "string", "striptags", "title", "tojson", "upper", "urlencode", "urlize",
    "wordwrap", "xmlattr",
})
# Filters that go through every item of their input: a generator is drawn out first (its items are
# counted), then the whole is measured.
_WALKING_FILTERS = frozenset({"dictsort", "groupby", "join", "list", "max", "min", "sort", "sum", "unique"})
# Work per item for the walking filters (groupby builds a tuple and a list per group).
_WORK_PER_ITEM = {"groupby": 4}
# Filters whose result is a new list or dict, measured after it is built.
_BUILDING_FILTERS = frozenset({"dictsort", "groupby", "list", "sort", "sum", "unique"})


def _filter_center(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    width = _arg(args, kwargs, 0, "width", 80)
    if _is_int(width) and width > _room(budget):
        budget.too_big("center", _room(budget))


def _filter_indent(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    width = _arg(args, kwargs, 0, "width", 4)
    step = len(width) if isinstance(width, str) else (width if _is_int(width) else 0)
    lines = value.count("\n") + 2 if isinstance(value, str) else 2
    if step > _room(budget) or lines * step + len(str(value)) > _room(budget):
        budget.too_big("indent", _room(budget))


def _filter_wordwrap(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    if not isinstance(value, str):
        return
    width = _arg(args, kwargs, 0, "width", 79)
    wrapstring = _arg(args, kwargs, 2, "wrapstring")
    glue = len(wrapstring) if isinstance(wrapstring, str) else 1
    lines = min(len(value) + 1, len(value) // max(width if _is_int(width) else 1, 1)
                + value.count(" ") + value.count("\n") + 1)
    if len(value) + lines * glue > _room(budget):
        budget.too_big("wordwrap", _room(budget))


def _filter_replace(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    if isinstance(value, str):
        _replace_size(value, _arg(args, kwargs, 0, "old"), _arg(args, kwargs, 1, "new"),
                      _arg(args, kwargs, 2, "count"), budget)


def _filter_format(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    _printf_size(str(value) if not isinstance(value, str) else value, kwargs or args, budget)


def _filter_join(value: list[Any], args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    _join_size(_arg(args, kwargs, 0, "d", ""), value, budget)


def _fill_check(what: str, count_name: str, index: int = 0):  # type: ignore[no-untyped-def]
    def check(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
        count = _arg(args, kwargs, index, count_name)
        fill = _arg(args, kwargs, index + 1, "fill_with")
        if what == "slice" and _is_int(count) and count > MAX_RANGE:
            budget.fail(f"is too expensive: slice into more than {MAX_RANGE:,} parts")
        if fill is not None and _is_int(count) and count > 0:
            _repeat_size([fill], count, budget)
    return check


def _filter_round(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    precision = _arg(args, kwargs, 0, "precision", 0)
    if _is_int(precision) and abs(precision) > _MAX_ROUND_DIGITS:
        budget.fail(f"is too expensive: rounding to more than {_MAX_ROUND_DIGITS} digits")


def _filter_sum(value: list[Any], args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    start = _arg(args, kwargs, 1, "start", 0)
    if not isinstance(start, (int, float)):
        # Adding lists copies the running total each time: the cost is items x total.
        total = _size(start, budget) + _size(value, budget)
        if len(value) * total > MAX_VALUE_CHARS * 4:
            budget.too_big("a sum of sequences")


def _filter_tojson(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    indent = _arg(args, kwargs, 0, "indent")
    step = len(indent) if isinstance(indent, str) else (indent if _is_int(indent) else 0)
    if step > _MAX_JSON_INDENT:
        budget.fail(f"is too expensive: a JSON indent of more than {_MAX_JSON_INDENT}")


def _filter_urlize(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: _Budget) -> None:
    for index, name in ((2, "target"), (3, "rel")):
        attr = _arg(args, kwargs, index, name)
        if attr is not None and len(str(attr)) > _MAX_URLIZE_ATTR_CHARS:
            budget.fail(f"is too expensive: urlize {name} longer than {_MAX_URLIZE_ATTR_CHARS} characters")
    schemes = _arg(args, kwargs, 4, "extra_schemes")
    if schemes is not None and len(list(schemes)) > _MAX_URLIZE_SCHEMES:
        budget.fail(f"is too expensive: more than {_MAX_URLIZE_SCHEMES} urlize schemes")


_FilterCheck = Callable[[Any, tuple[Any, ...], dict[str, Any], _Budget], None]
_FILTER_CHECKS: dict[str, _FilterCheck] = {
    "batch": _fill_check("batch", "linecount"),
    "center": _filter_center,
    "format": _filter_format,
    "indent": _filter_indent,
    "join": _filter_join,
    "replace": _filter_replace,
    "round": _filter_round,
    "slice": _fill_check("slice", "slices"),
    "sum": _filter_sum,
    "tojson": _filter_tojson,
    "urlize": _filter_urlize,
    "wordwrap": _filter_wordwrap,
}


def _first_argument(func: Callable[..., Any]) -> Callable[[Context], Any] | None:
    """What jinja2 passes before the value to `func`: the context, eval context, environment or nothing."""
    pass_arg = _PassArg.from_obj(func)
    if pass_arg is _PassArg.context:
        return lambda context: context
    if pass_arg is _PassArg.eval_context:
        return lambda context: context.eval_ctx
    if pass_arg is _PassArg.environment:
        return lambda context: context.environment
    return None


def _is_one_of(result: Any, args: tuple[Any, ...]) -> bool:
    for arg in args:  # not `in`: that compares with ==, which an Undefined refuses
        if result is arg:
            return True
    return False


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    first = _first_argument(func)
    printing = name in _PRINTING_FILTERS
    walking = name in _WALKING_FILTERS
    building = name in _BUILDING_FILTERS
    input_limit = _SLOW_FILTER_INPUT_CHARS.get(name, MAX_VALUE_CHARS)
    per_item = _WORK_PER_ITEM.get(name, 1)
    check = _FILTER_CHECKS.get(name)
    what = f"the input of {name}"
    made = f"the result of {name}"

    # pass_context also keeps jinja2 from calling the filter while compiling (constant folding).
    @pass_context
    def bounded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.work -= 1
        if budget.work < 0:
            budget.fail(_TOO_MUCH_WORK)
        if _now() > budget.deadline:
            budget.fail(_TOO_SLOW)
        if walking:
            if not isinstance(value, (str, list, tuple, dict)):
                value = list(value)
            _spend_work(len(value) * per_item, budget)
        if printing or walking:
            kind = type(value)
            if kind is str:
                if len(value) > input_limit:
                    budget.too_big(what, input_limit)
            elif kind is not int and kind is not float and kind is not bool and value is not None:
                _size(value, budget, min(input_limit, _room(budget)), what)
        if check is not None:
            check(value, args, kwargs, budget)
        if first is None:
            result = func(value, *args, **kwargs)
        else:
            result = func(first(context), value, *args, **kwargs)
        kind = type(result)
        if result is value or _is_one_of(result, args) or (kwargs and _is_one_of(result, tuple(kwargs.values()))):
            return result  # default(x), first, attr...: nothing new
        if kind is str or kind is Markup:
            if len(result) > MAX_VALUE_CHARS:
                budget.too_big(made)
            budget.spend(len(result))
        elif building:
            _size(result, budget, _room(budget), made)
        elif kind is types.GeneratorType:
            return _paced(result, budget)
        elif kind is int and name == "int" and result.bit_length() > MAX_INT_BITS:
            budget.fail(_int_too_big("int"))
        return result

    bounded.__name__ = f"bounded_{name}"
    return bounded


def _bounded_test(func: Callable[..., Any]) -> Callable[..., Any]:
    first = _first_argument(func)

    @pass_context
    def bounded(context: Context, *args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None and _now() > budget.deadline:
            budget.fail(_TOO_SLOW)
        return func(*args, **kwargs) if first is None else func(first(context), *args, **kwargs)

    return bounded


@pass_context
def _loop_items(context: Context, iterable: Any, chars: int = 0) -> Iterator[Any]:
    return _counted(iterable, _budget(), chars)


@pass_context
def _measured(context: Context, value: Any) -> Any:
    """A list, tuple or dict display ([a, b], {'k': v}) with values in it."""
    budget = _budget()
    _size(value, budget, _room(budget), "a list or dict")
    return value


@pass_context
def _concat(context: Context, items: tuple[Any, ...]) -> str:
    """a ~ b ~ c"""
    budget = _budget()
    budget.clock()
    limit = _room(budget)
    size = 0
    for item in items:
        size += _text_chars(item, budget, limit, "a concatenation")
    if size > limit:
        budget.too_big("a concatenation", limit)
    budget.spend(size)
    return markup_join(items) if context.eval_ctx.autoescape else str_join(items)


def _range(*args: Any) -> range:
    try:
        items = range(*args)
        if len(items) <= MAX_RANGE:
            return items
    except OverflowError:
        pass
    _budget().fail(f"is too expensive: a range of more than {MAX_RANGE:,} items")


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    if not (_is_int(n) and _is_int(max)) or n * max > _MAX_LIPSUM_WORDS:
        _budget().fail(f"is too expensive: lipsum of more than {_MAX_LIPSUM_WORDS:,} words")
    return generate_lorem_ipsum(n, html, min, max)


def _measured_call(factory: Callable[..., Any], contents: Callable[[Any], Any]) -> Callable[..., Any]:
    def build(*args: Any, **kwargs: Any) -> Any:
        result = factory(*args, **kwargs)
        budget = _budget()
        _size(contents(result), budget, _room(budget), f"a {factory.__name__.lower()}")
        return result
    build.__name__ = factory.__name__
    return build


_INTERNAL_FILTERS = {"_wf_loop": _loop_items, "_wf_value": _measured, "_wf_concat": _concat}
_ENV.filters = {name: _bounded_filter(name, func) for name, func in _ENV.filters.items()}
_ENV.filters.update(_INTERNAL_FILTERS)
# jinja2 leaves Environment.tests unannotated, so mypy infers dict[str, function]: they are callables
_ENV.tests = {name: _bounded_test(cast(Callable[..., Any], func)) for name, func in _ENV.tests.items()}
_ENV.globals.update(
    range=_range,
    lipsum=_lipsum,
    dict=_measured_call(dict, lambda d: d),
    namespace=_measured_call(Namespace, lambda ns: ns),
    cycler=_measured_call(Cycler, lambda c: c.items),
    joiner=_measured_call(Joiner, lambda j: j.sep),
)


# ---- reading a template before compiling it --------------------------------------------------

_FORBIDDEN: dict[type[nodes.Node], str] = {
    nodes.Extends: "{% extends %}", nodes.Include: "{% include %}", nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
}
_UNKNOWN = object()


def _static_chars(body: list[nodes.Node]) -> int:
    """Characters of literal text in a loop body (not counting nested loops, which count their own)."""
    total = 0
    stack: list[nodes.Node] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.TemplateData):
            total += len(node.data)
        elif not isinstance(node, (nodes.For, nodes.Macro, nodes.CallBlock)):
            stack.extend(node.iter_child_nodes())
    return total


def _inspect(tree: nodes.Template) -> None:
    """Refuse what can be seen to be hostile without running it (raises TemplateLimitError)."""
    stack: list[tuple[nodes.Node, int, int]] = [(tree, 0, 0)]
    while stack:
        node, depth, loops = stack.pop()
        if depth > MAX_TEMPLATE_NESTING:
            raise TemplateLimitError(f"is nested more than {MAX_TEMPLATE_NESTING} levels deep")
        if type(node) in _FORBIDDEN:
            raise TemplateAssertionError(f"{_FORBIDDEN[type(node)]} is not available", node.lineno)
        if isinstance(node, (nodes.Filter, nodes.Test)) and node.name.startswith("_"):
            kind = "filter" if isinstance(node, nodes.Filter) else "test"
            raise TemplateAssertionError(f"No {kind} named {node.name!r}.", node.lineno)
        if isinstance(node, nodes.For):
            loops += 1
            if loops > MAX_LOOP_NESTING:
                raise TemplateLimitError(f"is too expensive: loops nested more than {MAX_LOOP_NESTING} deep")
        if isinstance(node, nodes.Const) and _is_int(node.value) and node.value.bit_length() > MAX_INT_BITS:
            raise TemplateLimitError(_int_too_big("a number"))
        for child in node.iter_child_nodes():
            stack.append((child, depth + 1, loops))
    _static_value(tree, _Budget())


def _static_value(node: nodes.Node, budget: _Budget) -> Any:
    """The value of a constant expression, checking each operator and size-setting argument on the
    way; _UNKNOWN when it depends on the context or would be big. Visits each node once; the
    recursion is bounded by the nesting limit checked before."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.List) or (isinstance(node, nodes.Tuple) and node.ctx == "load"):
        items = [_static_value(item, budget) for item in node.items]
        if any(item is _UNKNOWN for item in items):
            return _UNKNOWN
        return items if isinstance(node, nodes.List) else tuple(items)
    if isinstance(node, nodes.Neg):
        value = _static_value(node.node, budget)
        return -value if isinstance(value, (int, float)) else _UNKNOWN
    if isinstance(node, nodes.BinExpr):
        left, right = _static_value(node.left, budget), _static_value(node.right, budget)
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        return _static_binop(node.operator, left, right, budget)
    if isinstance(node, (nodes.Call, nodes.Filter)):
        _static_call(node, budget)
        return _UNKNOWN
    for child in node.iter_child_nodes():
        _static_value(child, budget)
    return _UNKNOWN


def _static_binop(operator: str, left: Any, right: Any, budget: _Budget) -> Any:
    try:
        if operator == "*":
            if _is_int(left) and _is_int(right):
                return _mul(left, right, budget)
            for seq, times in ((left, right), (right, left)):
                if _is_int(times) and isinstance(seq, (str, bytes, list, tuple)):
                    if _repeat_size(seq, times, budget) > _STATIC_EVAL_CHARS:
                        return _UNKNOWN
            return left * right
        if operator == "**":
            return _pow(left, right, budget)
        if operator == "%" and isinstance(left, str):
            if _printf_size(left, right, budget) > _STATIC_EVAL_CHARS:
                return _UNKNOWN
            return left % right
        if operator == "+" and isinstance(left, (str, list, tuple)):
            return _add(left, right, budget) if len(left) + len(right) <= _STATIC_EVAL_CHARS else _UNKNOWN
        return _ENV.binop_table[operator](left, right)
    except TemplateLimitError:
        raise
    except Exception:  # 1 / 0 and friends are errors at run time, as before
        return _UNKNOWN


def _static_call(node: nodes.Call | nodes.Filter, budget: _Budget) -> None:
    """range(10**6), 'x'.ljust(10**8), 'x'|center(10**8)... with constant arguments."""
    callee: Any = node.node if isinstance(node, nodes.Call) else None
    if isinstance(node, nodes.Filter):
        owner = _static_value(node.node, budget) if node.node is not None else _UNKNOWN
    elif isinstance(callee, nodes.Getattr):
        owner = _static_value(callee.node, budget)
    else:
        owner = _UNKNOWN if isinstance(callee, nodes.Name) else _static_value(callee, budget)
    args = tuple(_static_value(arg, budget) for arg in node.args)
    # jinja2 annotates Filter.kwargs as list[Pair]; its parser builds Keyword nodes there, as for Call
    keywords = cast("list[nodes.Keyword]", node.kwargs)
    kwargs = {pair.key: _static_value(pair.value, budget) for pair in keywords}
    for extra in (node.dyn_args, node.dyn_kwargs):
        if extra is not None:
            _static_value(extra, budget)
    known_kwargs = {k: v for k, v in kwargs.items() if v is not _UNKNOWN}
    known_args = tuple(None if a is _UNKNOWN else a for a in args)
    try:
        if isinstance(node, nodes.Filter):
            check = _FILTER_CHECKS.get(node.name)
            if check is not None and (owner is not _UNKNOWN or node.name not in _FILTERS_NEEDING_INPUT):
                check("" if owner is _UNKNOWN else owner, known_args, known_kwargs, budget)
        elif isinstance(callee, nodes.Name) and callee.name == "range":
            if args and not any(a is _UNKNOWN for a in args):
                _range(*args)
        elif isinstance(callee, nodes.Name) and callee.name == "lipsum":
            if not any(a is _UNKNOWN for a in args):
                _lipsum(*args, **known_kwargs)
        elif isinstance(callee, nodes.Getattr) and callee.attr in _METHOD_CHECKS:
            if owner is _UNKNOWN:
                owner = 0 if callee.attr == "to_bytes" else ""
            if isinstance(owner, _TEXT_OWNERS):
                _METHOD_CHECKS[callee.attr](owner, known_args, known_kwargs, budget)
    except TemplateLimitError:
        raise
    except Exception:  # a wrong argument is for the call to report at run time
        pass


_FILTERS_NEEDING_INPUT = frozenset({"format", "join", "replace", "sum", "indent", "wordwrap"})


_EVAL_CONTEXT = nodes.EvalContext(_ENV)


def _call_filter(node: nodes.Expr, name: str, *args: nodes.Expr) -> nodes.Filter:
    return nodes.Filter(node, name, list(args), [], None, None, lineno=node.lineno)


def _guarded(node: nodes.Node) -> nodes.Node:
    """`node` as it should be compiled: a ~ b measured, a list/tuple/dict display with values in it
    measured (all-constant displays are left alone)."""
    if isinstance(node, nodes.Concat):
        return _call_filter(nodes.Tuple(node.nodes, "load", lineno=node.lineno), "_wf_concat")
    if isinstance(node, (nodes.List, nodes.Dict)) or (isinstance(node, nodes.Tuple) and node.ctx == "load"):
        try:
            node.as_const(_EVAL_CONTEXT)
        except Exception:
            return _call_filter(node, "_wf_value")
    return node


def _guard(tree: nodes.Template) -> nodes.Template:
    """Rewrite the parsed template in place so loops, concatenations and displays go through the
    budget: each {% for %} iterates through _wf_loop, which counts its items and the literal text of
    its body. Iterative, one visit per node."""
    stack: list[nodes.Node] = [tree]
    while stack:
        node = stack.pop()
        for field in node.fields:
            value = getattr(node, field)
            if isinstance(value, nodes.Node):
                stack.append(value)
                setattr(node, field, _guarded(value))
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, nodes.Node):
                        stack.append(item)
                        value[index] = _guarded(item)
        if isinstance(node, nodes.For):
            # jinja2 annotates For.iter as Node; the parser puts an expression there (_guarded keeps one)
            chars = nodes.Const(_static_chars(node.body), lineno=node.lineno)
            node.iter = _call_filter(cast(nodes.Expr, node.iter), "_wf_loop", chars)
    tree.set_environment(_ENV)
    return tree


class _Compiled(NamedTuple):
    root: Callable[[Context], Iterator[str]]
    blocks: dict[str, Any]
    globals: dict[str, Any]


def _code_tokens(source: str) -> Iterator[str]:
    """The kind of each token of template code in `source` (whitespace is not code)."""
    return (kind for _, kind, _ in _ENV.lex(source) if kind != "whitespace")


def _count_tokens(source: str) -> None:
    """Lexing is cheap next to parsing and compiling; stop at the first token past the limit."""
    for count, _ in enumerate(_code_tokens(source), 1):
        if count > MAX_TEMPLATE_TOKENS:
            raise TemplateLimitError(f"is too long: more than {MAX_TEMPLATE_TOKENS:,} tokens of template code")


@lru_cache(maxsize=1024)
def _compile(source: str) -> _Compiled:
    try:
        _count_tokens(source)
        tree = _ENV.parse(source)
        _inspect(tree)
        template = _ENV.from_string(_guard(tree))
    except (TemplateError, TemplateLimitError):
        raise
    except RecursionError:
        raise TemplateLimitError(_TOO_DEEP) from None
    except MemoryError:
        raise TemplateLimitError("is too large to compile") from None
    except SyntaxError as exc:  # Python refused the generated code: "too many statically nested blocks"...
        if "nested" in str(exc):
            raise TemplateLimitError(_TOO_DEEP) from None
        raise TemplateSyntaxError(str(exc), 1) from None
    except (ValueError, OverflowError) as exc:  # an integer literal past Python's 4,300 digits
        raise TemplateSyntaxError(str(exc), 1) from None
    return _Compiled(template.root_render_func, template.blocks, dict(template.globals))


# ---- the interface -------------------------------------------------------------------------

def count_code_tokens(source: str) -> int:
    """Tokens of template code in `source`, whitespace not counted: what MAX_TEMPLATE_TOKENS bounds."""
    return sum(1 for _ in _code_tokens(source))


def clear_compile_cache() -> None:
    """Forget every compiled template (each is compiled again on its next use): for measuring
    compilation itself."""
    _compile.cache_clear()


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def check_template(text: str) -> str | None:
    """None when `text` compiles and nothing in it is plainly too expensive, else what is wrong
    (for validation on write)."""
    if not is_template(text):
        return None
    if len(text) > MAX_TEMPLATE_CHARS:
        return f"template is too long: {len(text):,} characters, at most {MAX_TEMPLATE_CHARS:,}"
    try:
        _compile(text)
    except TemplateLimitError as exc:
        return f"template {exc.phrase}"
    except TemplateError as exc:
        return f"template error: {exc}"
    return None


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render every template string inside `value` (dicts and lists are walked).

    One budget (work, characters, deadline) covers the whole value; each field's output is capped.
    """
    if isinstance(value, str) and not is_template(value):
        return value
    budget = _Budget()
    token = _BUDGET.set(budget)
    try:
        return _render(value, context, budget)
    finally:
        _BUDGET.reset(token)


def _render(value: Any, context: dict[str, Any], budget: _Budget) -> Any:
    if isinstance(value, str):
        return _render_text(value, context, budget) if is_template(value) else value
    if isinstance(value, dict):
        return {k: _render(v, context, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context, budget) for v in value]
    return value


def _render_text(source: str, context: dict[str, Any], budget: _Budget) -> str:
    try:
        if len(source) > MAX_TEMPLATE_CHARS:
            raise TemplateLimitError(f"is too long: more than {MAX_TEMPLATE_CHARS:,} characters")
        compiled = _compile(source)
        budget.clock()
        jinja_context = _ENV.context_class(_ENV, {**compiled.globals, **context}, None, compiled.blocks)
        chunks = []
        size = 0
        for chunk in compiled.root(jinja_context):
            size += len(chunk)
            if size > MAX_RENDERED_CHARS:
                budget.fail(_TOO_LONG_OUTPUT)
            chunks.append(chunk)
        if budget.error is not None:  # a limit tripped and something swallowed the error
            raise budget.error
        return "".join(chunks)
    except TemplateLimitError as exc:
        raise TemplateLimitError(exc.phrase, source) from None
    except TemplateError as exc:
        raise TemplateRenderError(f"template {_short(source, 200)!r}: {exc}") from None
    except RecursionError:
        raise TemplateLimitError(_TOO_DEEP, source) from None
    except MemoryError:
        raise TemplateLimitError("is too expensive: out of memory", source) from None
    except Exception as exc:  # the template's own mistake (1 / 0, 'a' + 1...): a failed step, not a crash
        raise TemplateRenderError(f"template {_short(source, 200)!r}: {type(exc).__name__}: {exc}") from None
