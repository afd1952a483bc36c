"""Typed settings out of params.yaml: the generic reader every section's owner uses.

Each section of params.yaml belongs to the code that uses it: its frozen dataclass lives there
(evaluation in the evaluator, pin targets in their modules, formats in their packages...), and
`pipeline/params.py` only composes them. A dataclass's fields say what its keys hold; `setting()`
adds bounds. `Reader.section` fills one from its mapping, naming the dotted key in every error, so
a malformed file fails with one line that says where. A stage reads only the sections it uses
(`SettingsFile.read`), so its code dependencies stay its own.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from pipeline.errors import ModelprepError

DEFAULT_PARAMS = Path("params.yaml")


def setting(*, low: float | None = None, above: float | None = None, high: float | None = None,
            choices: tuple[str, ...] = (), default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with bounds: numbers at least `low` (or strictly above `above`) and at most
    `high` (ints without bounds must be positive), strings among `choices`."""
    return dataclasses.field(default=default, metadata={"low": low, "above": above, "high": high,
                                                        "choices": choices})


class Reader:
    """Pulls typed values out of the nested mappings of one file, naming the dotted key in every error."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, problem: str) -> ModelprepError:
        return ModelprepError(self.path, problem)

    def mapping(self, data: Any, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.error(f"'{where}' must be a mapping, got {type(data).__name__}")
        return data

    def get(self, data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str,
            default: Any = dataclasses.MISSING) -> Any:
        if key not in data:
            if default is dataclasses.MISSING:
                raise self.error(f"missing key '{where}.{key}'")
            return default
        value = data[key]
        # YAML ints are valid floats; bools are ints in Python but never valid numbers here.
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and kind in (int, float):
            raise self.error(f"'{where}.{key}' must be a number, got {value!r}")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.error(f"'{where}.{key}' must be {names}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(f"'{where}.{key}' must be a finite number, got {value!r}")
        return value

    def positive(self, data: dict[str, Any], key: str, where: str) -> int:
        value = self.get(data, key, int, where)
        if value <= 0:
            raise self.error(f"'{where}.{key}' must be positive, got {value}")
        return value

    def choice(self, data: dict[str, Any], key: str, where: str, choices: tuple[str, ...]) -> str:
        value = self.get(data, key, str, where)
        if value not in choices:
            raise self.error(f"'{where}.{key}' is {value!r}; expected one of {', '.join(choices)}")
        return value

    def texts(self, data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        values = self.get(data, key, list, where)
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise self.error(f"'{where}.{key}' must list at least one non-empty text")
        return tuple(values)

    def no_extra(self, data: dict[str, Any], allowed: set[str] | tuple[str, ...], where: str) -> None:
        extra = sorted(set(data) - set(allowed))
        if extra:
            raise self.error(f"unknown key '{where}.{extra[0]}' (allowed: {', '.join(sorted(allowed))})")

    def section(self, data: Any, where: str, spec_type: type) -> Any:
        """A flat section read into `spec_type` by its fields' types: bool, int, float, str, `float | None`
        (may be left out) and `tuple[str, ...]` (a list of texts). Ints must be positive unless the field's
        `setting()` gives other bounds; a field with a default may be left out."""
        data = self.mapping(data, where)
        fields = dataclasses.fields(spec_type)
        self.no_extra(data, {f.name for f in fields}, where)
        return spec_type(**{f.name: self._field(data, f, where) for f in fields if f.init})

    def fields(self, data: dict[str, Any], where: str, spec_type: type, names: tuple[str, ...]) -> dict[str, Any]:
        """Some of `spec_type`'s fields read by their declarations, for a section that reads the rest itself."""
        return {f.name: self._field(data, f, where) for f in dataclasses.fields(spec_type) if f.name in names}

    def _field(self, data: dict[str, Any], f: dataclasses.Field, where: str) -> Any:
        meta, kind = f.metadata, str(f.type)
        if f.name not in data and f.default is not dataclasses.MISSING:
            return f.default
        if kind == "tuple[str, ...]":
            return self.texts(data, f.name, where)
        if kind == "float | None":
            return self.get(data, f.name, float, where, None)
        if meta.get("choices"):
            return self.choice(data, f.name, where, meta["choices"])
        value = self.get(data, f.name, {"bool": bool, "int": int, "float": float, "str": str}[kind], where)
        if kind in ("int", "float"):
            low, above, high = meta.get("low"), meta.get("above"), meta.get("high")
            if kind == "int" and low is None and above is None and high is None:
                low = 1
            if ((low is not None and value < low) or (above is not None and value <= above)
                    or (high is not None and value > high)):
                raise self.error(f"'{where}.{f.name}' must be {_bounds(low, above, high)}, got {value}")
        return value


def _bounds(low: float | None, above: float | None, high: float | None) -> str:
    if low == 1 and high is None:
        return "positive"
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    parts = [f"at least {low:g}" if low is not None else "", f"above {above:g}" if above is not None else "",
             f"at most {high:g}" if high is not None else ""]
    return " and ".join(p for p in parts if p)


@dataclass
class SettingsFile:
    """params.yaml, parsed once; each owner reads its own section from it."""

    path: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PARAMS) -> SettingsFile:
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelprepError(path, "file not found") from None
        except IsADirectoryError:
            raise ModelprepError(path, "is a folder, not a parameters file") from None
        except UnicodeDecodeError as err:
            raise ModelprepError(path, f"not UTF-8 text (byte {err.start}: {err.reason})") from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ModelprepError(path, f"not valid YAML{where}: {getattr(err, 'problem', None) or err}") from None
        return cls(path, Reader(path).mapping(data, "params.yaml"))

    @cached_property
    def reader(self) -> Reader:
        return Reader(self.path)

    def raw(self, key: str) -> Any:
        """The section `key` as YAML gave it; a missing section is an error naming it."""
        return self.reader.get(self.data, key, (dict, list), "params")

    def read(self, key: str, spec: type | Callable[[Reader, Any, str], Any]) -> Any:
        """Section `key` read by its owner: a dataclass (read field by field) or a function (reader, data, where)."""
        data = self.raw(key)
        if dataclasses.is_dataclass(spec):
            return self.reader.section(data, key, spec)
        return spec(self.reader, data, key)
