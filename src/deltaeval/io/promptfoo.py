"""promptfoo results files (``promptfoo eval -o results.json``) as runs: one per provider.

The file is promptfoo's ``OutputFile``: ``evalId``, ``results`` (an ``EvaluateSummary``: version 3
holds ``results``, ``prompts`` and ``stats``; version 2 also a ``table``), ``config``,
``shareableUrl`` and ``metadata``. Each of ``results.results`` is one ``EvaluateResult``:
``provider`` (``id``, ``label``), ``prompt`` (``raw``, ``label``), ``vars``, ``testCase``,
``testIdx``, ``response`` (``output``, ``tokenUsage``), ``success``, ``score``, ``error``,
``failureReason`` (0 none, 1 an assertion failed, 2 an error), ``latencyMs``.

One run per provider (its label, else its id), or per provider and prompt when the file tested
several prompts (``provider [prompt label]``); pick one with ``FILE::RUN``. The example id is a
stable hash of the test's ``vars`` (the same test pairs up across files, whatever its position),
the input is the rendered prompt, the vars that look like categories become tags (``--tag VAR``
names them instead), a var named like a reference (``expected``, ``reference`` …) or else the
first ``equals``/``contains`` assertion's value becomes the reference, ``score`` is the score and
``correct`` is ``success``; an output whose call failed (``failureReason`` 2) carries the error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deltaeval.errors import InputError
from deltaeval.io.auto_tags import choose_tags
from deltaeval.io.base import REFERENCE_COLUMNS, ColumnMapping, build_run, parse_float, text_or_none
from deltaeval.io.json_document import read_document
from deltaeval.io.reading import describe_columns, require_column, stringify_tags
from deltaeval.io.records import reject_mapping
from deltaeval.types import Example, Output, Run, stable_id

FMT = "promptfoo"
#: promptfoo's ``ResultFailureReason.ERROR``: the provider call failed (1 is a failed assertion).
FAILURE_ERROR = 2
#: Assertion types whose string value is the expected answer.
REFERENCE_ASSERTIONS = ("equals", "contains", "icontains", "starts-with")


def _results(document: Mapping[str, Any], path: Path) -> list[Mapping[str, Any]]:
    summary = document.get("results")
    results = summary.get("results") if isinstance(summary, Mapping) else None
    if not isinstance(results, list):
        version = summary.get("version") if isinstance(summary, Mapping) else None
        raise InputError(
            f"'results.results' is not a list (results version {version}); deltaeval reads promptfoo's "
            "results versions 2 and 3",
            hint="write the file with a recent promptfoo: promptfoo eval -o results.json",
            path=path,
        )
    if not results:
        raise InputError("'results.results' is empty", hint="check that the eval ran its tests", path=path)
    for k, result in enumerate(results):
        if not isinstance(result, Mapping):
            raise InputError(
                f"results.results[{k}] is {type(result).__name__}, not an object",
                hint="give the file promptfoo eval -o wrote",
                path=path,
            )
        for field in ("provider", "vars"):
            if field not in result:
                raise InputError(
                    f"results.results[{k}] has no {field!r}; its fields are: "
                    + describe_columns(list(result)),
                    hint="give the file promptfoo eval -o results.json wrote",
                    path=path,
                )
    return results


def _provider(result: Mapping[str, Any]) -> str:
    provider = result.get("provider")
    if isinstance(provider, Mapping):
        return text_or_none(provider.get("label")) or text_or_none(provider.get("id")) or "provider"
    return text_or_none(provider) or "provider"


def _prompt(result: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The rendered prompt and the prompt's label."""
    prompt = result.get("prompt")
    if isinstance(prompt, Mapping):
        return text_or_none(prompt.get("raw")), text_or_none(prompt.get("label")) or text_or_none(
            prompt.get("raw")
        )
    return text_or_none(prompt), text_or_none(prompt)


def _vars(result: Mapping[str, Any]) -> dict[str, Any]:
    values = result.get("vars")
    return dict(values) if isinstance(values, Mapping) else {}


def _example_id(result: Mapping[str, Any]) -> str:
    values = _vars(result)
    if values:
        return stable_id(json.dumps(values, sort_keys=True, ensure_ascii=False, default=str))
    return str(result.get("testIdx", ""))


def _reference(result: Mapping[str, Any]) -> str | None:
    values = _vars(result)
    for name in (*REFERENCE_COLUMNS, "answer"):
        if name in values and text_or_none(values[name]) is not None:
            return text_or_none(values[name])
    test = result.get("testCase")
    asserts = test.get("assert") if isinstance(test, Mapping) else None
    for check in asserts if isinstance(asserts, list) else []:
        if (
            isinstance(check, Mapping)
            and check.get("type") in REFERENCE_ASSERTIONS
            and isinstance(check.get("value"), str)
        ):
            return check["value"]
    return None


def _usage(result: Mapping[str, Any]) -> Mapping[str, Any]:
    response = result.get("response") if isinstance(result.get("response"), Mapping) else {}
    for usage in (response.get("tokenUsage"), result.get("tokenUsage")):
        if isinstance(usage, Mapping) and usage:
            return usage
    return {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _output(result: Mapping[str, Any], example_id: str, k: int, path: Path) -> Output:
    response = result.get("response") if isinstance(result.get("response"), Mapping) else {}
    text = response.get("output")
    if isinstance(text, Mapping | list):
        text = json.dumps(text, ensure_ascii=False, sort_keys=True)
    failed = result.get("failureReason") == FAILURE_ERROR or bool(response.get("error"))
    error = text_or_none(response.get("error")) or text_or_none(result.get("error")) if failed else None
    latency = parse_float(
        result.get("latencyMs"), path=path, line=None, column=f"results.results[{k}].latencyMs"
    )
    usage = _usage(result)
    success = result.get("success")
    return Output(
        example_id=example_id,
        text=text_or_none(text),
        score=parse_float(result.get("score"), path=path, line=None, column=f"results.results[{k}].score"),
        correct=None if failed or not isinstance(success, bool) else success,
        error=(error or "the provider call failed") if failed else None,
        latency_s=None if latency is None else latency / 1000.0,
        tokens=_int(usage.get("completion")),
        prompt_tokens=_int(usage.get("prompt")),
    )


def _tag_vars(
    results: Sequence[Mapping[str, Any]], mapping: ColumnMapping, path: Path
) -> tuple[tuple[str, ...], list[str]]:
    records = [(k + 1, _vars(r)) for k, r in enumerate(results)]
    names = list(dict.fromkeys(name for _, values in records for name in values))
    if mapping.tags:
        return tuple(require_column(names, t, role="a tag", path=path) for t in mapping.tags), []
    chosen = choose_tags(records, names)
    return chosen.columns, [note.replace("column", "var", 1) for note in chosen.notes]


def _configured_providers(document: Mapping[str, Any]) -> list[str]:
    """The providers' labels and ids in the order the config lists them."""
    config = document.get("config")
    listed = config.get("providers") if isinstance(config, Mapping) else None
    if isinstance(listed, Mapping):
        listed = [
            {"id": key, **value} if isinstance(value, Mapping) else key for key, value in listed.items()
        ]
    names: list[str] = []
    for item in listed if isinstance(listed, list) else [listed]:
        if isinstance(item, Mapping):
            names.append(str(item.get("label") or item.get("id") or ""))
        elif item is not None:
            names.append(str(item))
    return names


def _in_order(results: Sequence[Mapping[str, Any]], providers: Sequence[str]) -> list[int]:
    """Result positions by provider (as the config lists them), prompt and test: promptfoo writes
    results in the order the calls finished."""

    def key(k: int) -> tuple[int, int, int, int]:
        result = results[k]
        rank = providers.index(_provider(result)) if _provider(result) in providers else len(providers)
        prompt, test = result.get("promptIdx"), result.get("testIdx")
        return (rank, _int(prompt) or 0, _int(test) or 0, k)

    return sorted(range(len(results)), key=key)


def load(path: Path, *, mapping: ColumnMapping, strict: bool) -> list[Run]:
    """One run per provider (and prompt, when there are several) of a promptfoo results file."""
    reject_mapping(mapping, FMT, path=path)
    document = read_document(path, FMT)
    results = _results(document, path)
    tag_vars, notes = _tag_vars(results, mapping, path)
    several_prompts = len({_prompt(r)[1] for r in results}) > 1
    groups: dict[str, list[tuple[Example, Output, int | None]]] = {}
    providers: dict[str, str] = {}
    for k in _in_order(results, _configured_providers(document)):
        result = results[k]
        example_id = _example_id(result)
        rendered, label = _prompt(result)
        values = _vars(result)
        example = Example(
            id=example_id,
            input=rendered,
            reference=_reference(result),
            tags=stringify_tags({name: values[name] for name in tag_vars if name in values}),
        )
        name = _provider(result) + (f" [{label}]" if several_prompts and label else "")
        provider = result.get("provider")
        providers[name] = text_or_none(provider.get("id")) if isinstance(provider, Mapping) else None or name
        groups.setdefault(name, []).append((example, _output(result, example_id, k, path), k + 1))
    summary = document["results"]
    params = {"eval_id": document.get("evalId"), "results_version": summary.get("version")}
    return [
        build_run(
            name,
            triples,
            path=path,
            strict=strict,
            model=providers[name] or name,
            params={key: value for key, value in params.items() if value is not None},
            source=str(path),
            notes=notes,
        )
        for name, triples in groups.items()
    ]
