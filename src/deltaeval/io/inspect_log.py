"""inspect_ai eval logs (``.eval`` archives and ``.json`` logs, log schema version 2) as runs.

Read with the standard library (and ``zstandard`` for archives that inspect_ai compressed with
Zstandard, as it does by default): inspect_ai itself is not needed. A ``.json`` log is one object
(``version``, ``status``, ``eval``, ``results``, ``samples`` …); an ``.eval`` archive holds
``header.json`` (the same without the samples) and one ``samples/<id>_epoch_<n>.json`` per sample.

Per sample: ``id`` (with ``#<epoch>`` when the log ran several epochs), ``input`` (text or chat
messages), ``target`` → reference (a list: alternatives), ``output.completion`` → the output
text, the chosen scorer's value → score (``C``/``P``/``I``/``N`` as 1/0.5/0/0, as inspect_ai's
``value_to_float``), and ``correct`` when every score is 0 or 1. ``metadata`` fields that look
like categories become tags (``--tag KEY`` names them instead), beside ``task``.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deltaeval.errors import InputError
from deltaeval.io.auto_tags import choose_tags
from deltaeval.io.base import ColumnMapping, build_run, text_or_none
from deltaeval.io.json_document import parse_bytes, read_document
from deltaeval.io.reading import describe_columns, require_column, stringify_tags
from deltaeval.io.records import reject_mapping
from deltaeval.references import join_alternatives
from deltaeval.types import Example, Output, Run

FMT = "inspect"
SUFFIXES = (".eval",)
#: The zip compression method number of Zstandard (APPNOTE 6.3.7), inspect_ai's default.
ZIP_ZSTANDARD = 93
#: Letter grades of inspect_ai's scorers, as its ``value_to_float`` reads them.
GRADES = {"C": 1.0, "P": 0.5, "I": 0.0, "N": 0.0}
_WORDS = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


def is_eval_archive(path: Path) -> bool:
    """Whether ``path`` is a zip holding an inspect_ai log (``header.json`` or a journal)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return "header.json" in names or "_journal/start.json" in names


def _zstd_member(path: Path, info: zipfile.ZipInfo) -> bytes:
    """A Zstandard-compressed member, read past Python's zipfile (which reads Zstandard from 3.14)."""
    try:
        import zstandard
    except ImportError:
        raise InputError(
            f"{info.filename} in the .eval archive is compressed with Zstandard, which needs the "
            "zstandard package",
            hint="pip install 'deltaeval[inspect]', or convert the log: inspect log convert --to json",
            path=path,
        ) from None
    with path.open("rb") as handle:
        handle.seek(info.header_offset)
        header = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
        handle.seek(header[9] + header[10], io.SEEK_CUR)  # the name and the extra field
        packed = handle.read(info.compress_size)
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(packed), read_across_frames=True)
        data = reader.read()
    except zstandard.ZstdError as err:
        raise InputError(
            f"{info.filename} in the .eval archive cannot be decompressed: {err}",
            hint="check that the log file is complete",
            path=path,
        ) from None
    if zlib.crc32(data) != info.CRC:
        raise InputError(
            f"{info.filename} in the .eval archive fails its checksum",
            hint="check that it is complete",
            path=path,
        )
    return data


def _member(archive: zipfile.ZipFile, path: Path, name: str) -> Any:
    info = archive.getinfo(name)
    try:
        data = archive.read(info)
    except NotImplementedError:
        if info.compress_type != ZIP_ZSTANDARD:
            raise InputError(
                f"{name} in the .eval archive uses zip compression method {info.compress_type}",
                hint="convert the log: inspect log convert --to json",
                path=path,
            ) from None
        data = _zstd_member(path, info)
    except (zipfile.BadZipFile, zlib.error, OSError) as err:
        raise InputError(
            f"{name} in the .eval archive cannot be read: {err}",
            hint="check that the log file is complete",
            path=path,
        ) from None
    return parse_bytes(data, path, name)


def read_archive(path: Path) -> dict[str, Any]:
    """A ``.eval`` archive as the one object a ``.json`` log is (header fields and ``samples``)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise InputError(
            f"not a zip archive ({err})",
            hint="give an inspect_ai .eval log, or its .json form (inspect log convert --to json)",
            path=path,
        ) from None
    with archive:
        names = archive.namelist()
        if "header.json" in names:
            document = _member(archive, path, "header.json")
        elif "_journal/start.json" in names:  # a log still being written: what has started
            document = _member(archive, path, "_journal/start.json")
        else:
            raise InputError(
                "the archive holds no header.json: not an inspect_ai log",
                hint="give an inspect_ai .eval log",
                path=path,
            )
        if not isinstance(document, dict) or not isinstance(document.get("eval"), dict):
            raise InputError(
                "header.json has no 'eval' object", hint="give an inspect_ai .eval log", path=path
            )
        members = [n for n in names if n.startswith("samples/") and n.endswith(".json")]
        document["samples"] = [_member(archive, path, name) for name in members]
    return document


def _message_text(content: Any) -> str:
    """A chat message's content: a string, or the text of its content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping):
                kind = part.get("type")
                parts.append(str(part.get("text", "")) if kind == "text" else f"[{kind}]")
        return "\n".join(parts)
    return "" if content is None else str(content)


def _input(value: Any) -> str | list[dict[str, Any]] | None:
    if isinstance(value, list):
        return [
            {"role": str(m.get("role", "user")), "content": _message_text(m.get("content"))}
            for m in value
            if isinstance(m, Mapping)
        ]
    return text_or_none(value)


def _reference(target: Any) -> str | None:
    if isinstance(target, list):
        return join_alternatives(str(t) for t in target)
    return text_or_none(target)


def score_value(value: Any) -> float | None:
    """An inspect_ai score value as a number (as its ``value_to_float``); None for dicts and lists."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in GRADES:
            return GRADES[text.upper()]
        if text.lower() in _WORDS:
            return _WORDS[text.lower()]
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _scorer(document: Mapping[str, Any], samples: Sequence[Mapping[str, Any]], named: str | None, path: Path):
    names: dict[str, None] = {}
    for sample in samples:
        scores = sample.get("scores")
        if isinstance(scores, Mapping):
            names.update(dict.fromkeys(scores))
    if named is not None:
        if named not in names:
            raise InputError(
                f"scorer {named!r} (given for score) not found; the scorers are: "
                + describe_columns(list(names)),
                hint="name one of the log's scorers with --score",
                path=path,
            )
        return named
    results = document.get("results")
    headline = results.get("headline") if isinstance(results, Mapping) else None
    if isinstance(headline, Mapping) and headline.get("scorer") in names:
        return str(headline["scorer"])
    return next(iter(names), None)


def _output(sample: Mapping[str, Any], example_id: str, score: float | None) -> Output:
    output = sample.get("output") if isinstance(sample.get("output"), Mapping) else {}
    usage = output.get("usage") if isinstance(output.get("usage"), Mapping) else {}
    choices = output.get("choices") if isinstance(output.get("choices"), list) else []
    stop = choices[0].get("stop_reason") if choices and isinstance(choices[0], Mapping) else None
    error = sample.get("error")
    if isinstance(error, Mapping):
        error = error.get("message")
    elapsed = output.get("time")
    return Output(
        example_id=example_id,
        text=text_or_none(output.get("completion")),
        score=score,
        error=text_or_none(error) or text_or_none(output.get("error")),
        tokens=usage.get("output_tokens") if isinstance(usage.get("output_tokens"), int) else None,
        prompt_tokens=usage.get("input_tokens") if isinstance(usage.get("input_tokens"), int) else None,
        latency_s=float(elapsed)
        if isinstance(elapsed, int | float) and not isinstance(elapsed, bool)
        else None,
        finish_reason=text_or_none(stop),
    )


def _document(path: Path) -> dict[str, Any]:
    if path.suffix.lower() in SUFFIXES or zipfile.is_zipfile(path):
        return read_archive(path)
    document = read_document(path, FMT)
    if not isinstance(document.get("eval"), Mapping):
        raise InputError(
            "the log has no 'eval' object; its fields are: " + describe_columns(list(document)),
            hint="give an inspect_ai log (.eval or .json), or pass another --format",
            path=path,
        )
    return document


def _in_dataset_order(samples: list[Mapping[str, Any]], spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The samples in the dataset's order, then by epoch (a log holds them as they finished)."""
    dataset = spec.get("dataset")
    ids = dataset.get("sample_ids") if isinstance(dataset, Mapping) else None
    order = {str(i): k for k, i in enumerate(ids if isinstance(ids, list) else [])}

    def key(sample: Mapping[str, Any]) -> tuple[int, int]:
        epoch = sample.get("epoch")
        return (order.get(str(sample["id"]), len(order)), epoch if isinstance(epoch, int) else 0)

    return sorted(samples, key=key)


def load(path: Path, *, mapping: ColumnMapping, strict: bool) -> list[Run]:
    """One run from an inspect_ai log; ``mapping.score`` names the scorer (default: the headline one)."""
    reject_mapping(mapping, FMT, path=path, allowed=("score",))
    document = _document(path)
    spec = document["eval"]
    samples = document.get("samples")
    if not isinstance(samples, list) or not samples:
        status = document.get("status")
        raise InputError(
            f"the log holds no samples (status: {status})",
            hint="give a log written with its samples (inspect eval … writes them unless --no-log-samples)",
            path=path,
        )
    for k, sample in enumerate(samples):
        if not isinstance(sample, Mapping) or "id" not in sample:
            raise InputError(
                f"samples[{k}] has no 'id'", hint="give an inspect_ai log written by inspect eval", path=path
            )
    samples = _in_dataset_order(samples, spec)
    scorer = _scorer(document, samples, mapping.score, path)
    metadata = [(k + 1, dict(s.get("metadata") or {})) for k, s in enumerate(samples)]
    keys = list(dict.fromkeys(key for _, m in metadata for key in m))
    if mapping.tags:
        tag_keys = tuple(require_column(keys, t, role="a tag", path=path) for t in mapping.tags)
        notes: list[str] = []
    else:
        chosen = choose_tags(metadata, keys)
        tag_keys, notes = chosen.columns, list(chosen.notes)
    epochs = {s.get("epoch", 1) for s in samples}
    task = text_or_none(spec.get("task"))
    scores = []
    for sample in samples:
        value = sample["scores"].get(scorer, {}) if isinstance(sample.get("scores"), Mapping) else {}
        scores.append(score_value(value.get("value")) if isinstance(value, Mapping) else None)
    if scorer is None:
        notes.append("the log holds no scores: outputs have no score")
    elif any(isinstance(s.get("scores"), Mapping) and s["scores"].get(scorer) for s in samples) and all(
        v is None for v in scores
    ):
        notes.append(f"scorer {scorer!r} gives no single number per sample: outputs have no score")
    binary = all(v in (0.0, 1.0) for v in scores if v is not None) and any(v is not None for v in scores)
    triples = []
    for (line, meta), sample, score in zip(metadata, samples, scores, strict=True):
        example_id = str(sample["id"]) if len(epochs) == 1 else f"{sample['id']}#{sample.get('epoch', 1)}"
        tags = {"task": task} if task else {}
        tags.update(stringify_tags({k: meta[k] for k in tag_keys if k in meta}))
        example = Example(
            id=example_id,
            input=_input(sample.get("input")),
            reference=_reference(sample.get("target")),
            tags=tags,
        )
        output = _output(sample, example_id, score)
        if binary and score is not None:
            output = dataclasses.replace(output, correct=score == 1.0)
        triples.append((example, output, line))
    model = text_or_none(spec.get("model")) or path.stem
    params = {
        key: spec.get(key)
        for key in ("task", "task_version", "eval_id", "run_id", "model_generate_config", "task_args")
        if spec.get(key) not in (None, {}, "")
    }
    if scorer is not None:
        params["scorer"] = scorer
    return [
        build_run(
            model,
            triples,
            path=path,
            strict=strict,
            model=model,
            params=params,
            source=str(path),
            notes=notes,
        )
    ]
