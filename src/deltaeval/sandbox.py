"""Prompt and judge templates in a bounded Jinja2 sandbox.

Templates are user text: Jinja2's sandbox keeps them away from Python internals, and this module
bounds the work one rendering may do. One number bounds a rendering: the characters it
renders, the steps its loops take, the items of a ``range``, and the size of any string or list
it builds (``*``, ``+``, ``~``, ``%``, padding, ``replace``, ``join``). The bound is
:data:`MAX_TEMPLATE_WORK`, or four times the size of the variables when they are larger (a long
input may be quoted a few times). Past it, rendering stops with a :class:`UsageError`, as does
any other failure of the template (an undefined variable, ``1/0``, runaway recursion).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from deltaeval.errors import DeltaEvalError, UsageError

#: the least bound on characters rendered, loop steps and sizes built by one rendering
MAX_TEMPLATE_WORK = 1_000_000
#: the largest integer a template may compute, in bits
MAX_INT_BITS = 100_000

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\d+|\*)?(?:\.(\d+|\*))?")
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


class _LimitExceeded(Exception):
    """Raised inside a rendering that passed its bound (turned into a UsageError by ``render``)."""


class _Budget:
    """The work one rendering may still do."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.steps = 0

    def refuse(self, what: str, size: int) -> None:
        if size > self.limit:
            raise _LimitExceeded(f"{what} reaches {size:,}, past the bound of {self.limit:,}")

    def sized(self, value: Any) -> Any:
        if isinstance(value, (str, list, tuple, dict, set)):
            self.refuse("a value's length", len(value))
        elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise _LimitExceeded(f"it computes an integer of more than {MAX_INT_BITS:,} bits")
        return value


_BUDGET: ContextVar[_Budget | None] = ContextVar("deltaeval_template_budget", default=None)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    return budget if budget is not None else _Budget(MAX_TEMPLATE_WORK)


def _check_format(fmt: str, args: Any) -> None:
    """Refuse a ``%`` or ``{}`` format whose field widths or precisions pass the bound."""
    budget = _budget()
    numbers: list[str] = []
    starred = False
    for width, precision in _PERCENT_SPEC.findall(fmt):
        numbers += [width, precision]
        starred = starred or "*" in (width, precision)
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        fields = []
    for _literal, _name, spec, _conversion in fields:
        numbers += re.findall(r"\d+", spec or "")
        starred = starred or "{" in (spec or "")
    for number in numbers:
        if number.isdigit():
            budget.refuse("a format field width", int(number))
    if starred:
        values = args.values() if isinstance(args, Mapping) else args if isinstance(args, tuple) else (args,)
        for value in values:
            if isinstance(value, int):
                budget.refuse("a format field width", value)


def _check_str_call(owner: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse a call of a string method whose result would pass the bound."""
    budget = _budget()
    if name in _PADDING_METHODS and args and isinstance(args[0], int):
        budget.refuse("a padding width", args[0])
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            budget.refuse("the length with tabs expanded", len(owner) + owner.count("\t") * tabsize)
    elif name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1])
    elif name == "join" and args:
        _check_join(args[0], owner)
    elif name == "format_map" and args:
        _check_format(owner, args[0])
    elif name == "format":
        _check_format(owner, tuple(args) + tuple(kwargs.values()))


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        grows = len(new) - len(old)
        if grows > 0:
            hits = len(text) + 1 if old == "" else text.count(old)
            _budget().refuse("the length after replacing", len(text) + hits * grows)


def _check_join(items: Any, separator: str) -> None:
    if isinstance(items, (list, tuple)):
        size = sum(len(x) if isinstance(x, str) else 0 for x in items)
        _budget().refuse("the joined length", size + len(separator) * max(len(items) - 1, 0))


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    _budget().refuse("a range's length", len(numbers))
    return numbers


def _environment_class() -> type:
    """The sandbox class (built on first use: Jinja2 is imported only by commands with templates)."""
    from jinja2 import nodes, pass_eval_context
    from jinja2.filters import do_center, do_format, do_indent, do_replace, sync_do_join, sync_do_slice
    from jinja2.sandbox import SandboxedEnvironment
    from jinja2.visitor import NodeTransformer

    @pass_eval_context
    def join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
        items = list(value)
        if attribute is None:
            _check_join([str(x) for x in items], str(d))
        return _budget().sized(sync_do_join(eval_ctx, items, d, attribute))

    def center(value: Any, width: int = 80) -> str:
        _budget().refuse("a padding width", width if isinstance(width, int) else 0)
        return do_center(value, width)

    def indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> str:
        size = width if isinstance(width, int) else len(str(width))
        _budget().refuse("the indented length", len(str(value)) + size * (str(value).count("\n") + 1))
        return do_indent(value, width, *args, **kwargs)

    def format_(value: Any, *args: Any, **kwargs: Any) -> str:
        _check_format(str(value), kwargs or args)
        return do_format(value, *args, **kwargs)

    @pass_eval_context
    def replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: Any = None) -> str:
        _check_replace(str(value), str(old), str(new))
        return do_replace(eval_ctx, value, old, new, count)

    def slice_(value: Any, slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
        _budget().refuse("the number of slices", slices if isinstance(slices, int) else 0)
        return sync_do_slice(value, slices, fill_with)

    class _Bounds(NodeTransformer):
        """Route every loop's iterable and every ``~`` through the budget."""

        def visit_For(self, node: nodes.For) -> nodes.For:
            self.generic_visit(node)
            node.iter = nodes.Call(nodes.EnvironmentAttribute("bounded_iter"), [node.iter], [], None, None)
            return node

        def visit_Concat(self, node: nodes.Concat) -> nodes.Call:
            self.generic_visit(node)
            return nodes.Call(nodes.EnvironmentAttribute("bounded_value"), [node], [], None, None)

    class BoundedEnvironment(SandboxedEnvironment):
        """Jinja2's sandbox with every source of unbounded work checked against the budget."""

        intercepted_binops = frozenset({"*", "**", "+", "%"})

        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.globals["range"] = _bounded_range
            self.filters.update(
                join=join, center=center, indent=indent, format=format_, replace=replace, slice=slice_
            )

        def parse_bounded(self, source: str) -> Any:
            return _Bounds().visit(self.parse(source))

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            budget = _budget()
            if operator == "*":
                for sequence, times in ((left, right), (right, left)):
                    if isinstance(sequence, (str, list, tuple)) and isinstance(times, int):
                        budget.refuse("a repetition's length", len(sequence) * times)
                ints = isinstance(left, int) and isinstance(right, int)
                if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                    raise _LimitExceeded(f"it computes an integer of more than {MAX_INT_BITS:,} bits")
            elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
                if right > 0 and right * math.log2(abs(left)) > MAX_INT_BITS:
                    raise _LimitExceeded(f"it computes an integer of more than {MAX_INT_BITS:,} bits")
            elif operator == "%" and isinstance(left, str):
                _check_format(left, right)
            return budget.sized(self.binop_table[operator](left, right))

        def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            target = getattr(obj, "__wrapped__", obj)
            owner = getattr(target, "__self__", None)
            if isinstance(owner, str):
                _check_str_call(owner, getattr(target, "__name__", ""), args, kwargs)
            return _budget().sized(super().call(context, obj, *args, **kwargs))

        def bounded_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
            budget = _budget()
            for item in iterable:
                budget.steps += 1
                if budget.steps > budget.limit:
                    raise _LimitExceeded(f"its loops pass {budget.limit:,} steps")
                yield item

        def bounded_value(self, value: Any) -> Any:
            return _budget().sized(value)

    return BoundedEnvironment


@lru_cache(maxsize=64)
def _compiled(source: str, trim_blocks: bool) -> Any:
    from jinja2 import StrictUndefined

    environment = _environment_class()(undefined=StrictUndefined, autoescape=False, trim_blocks=trim_blocks)
    return environment.from_string(environment.parse_bounded(source))


def compile_template(source: str, *, what: str, hint: str, trim_blocks: bool = False) -> Any:
    """Compile ``source`` in the bounded sandbox; a syntax error is a :class:`UsageError`.

    ``what`` names the template in messages ("the judge template"); ``hint`` says how to write one.
    """
    from jinja2 import TemplateSyntaxError

    try:
        return _compiled(source, trim_blocks)
    except TemplateSyntaxError as exc:
        message = f"{what} does not parse: {exc.message} (template line {exc.lineno})"
        raise UsageError(message, hint=hint) from None


def _size(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(_size(k) + _size(v) for k, v in value.items())
    return 0 if value is None else len(str(value))


def render(template: Any, variables: Mapping[str, Any], *, what: str, example_id: str, hint: str) -> str:
    """Render a compiled template within its bound; every failure is a :class:`UsageError`.

    The output is built chunk by chunk and stops as soon as it passes the bound.
    """
    limit = max(MAX_TEMPLATE_WORK, 4 * sum(_size(v) for v in variables.values()))
    token = _BUDGET.set(_Budget(limit))
    bound = (
        f"a template renders at most {limit:,} characters, loops at most {limit:,} steps "
        "and builds no string or list longer than that; shorten its loops and repetitions"
    )
    try:
        chunks: list[str] = []
        size = 0
        for chunk in template.generate(**variables):
            size += len(chunk)
            if size > limit:
                raise _LimitExceeded(f"its output passes {limit:,} characters")
            chunks.append(chunk)
        return "".join(chunks)
    except _LimitExceeded as exc:
        raise UsageError(f"{what} fails on example {example_id!r}: {exc}", hint=bound) from None
    except (RecursionError, OverflowError, MemoryError) as exc:
        reason = type(exc).__name__
        raise UsageError(f"{what} fails on example {example_id!r}: {reason}", hint=bound) from None
    except DeltaEvalError:
        raise
    except Exception as exc:  # the template is user code: any failure of it is a usage error
        from jinja2 import TemplateError

        reason = str(exc) if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"
        raise UsageError(f"{what} fails on example {example_id!r}: {reason}", hint=hint) from None
    finally:
        _BUDGET.reset(token)
