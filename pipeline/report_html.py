"""`manifests/report.html`: the release report as one page anyone can open, read from the manifests alone.

Per model: a table of every released variant (format, size, accuracy against the fp32 reference,
speed on the build device), a table of its memory per serving profile, and a chart of size against
accuracy. The page is self-contained (inline CSS and SVG, no script, nothing fetched), every string
taken from a manifest is HTML-escaped, and the same manifests give the same bytes (sorted, no dates).
Manifests of older record versions, without memory or measured figures, show "—" there.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from pipeline import formats
from pipeline.fileio import write_text
from pipeline.kinds import ModelKind
from pipeline.manifest.document import Manifest
from pipeline.measured import measurements
from pipeline.progress import MIB, human_bytes

MISSING = "—"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
section { margin-bottom: 3em; }
svg { font-size: 12px; }
svg .grid { stroke: #e4e4e4; }
svg .axis { stroke: #444; }
"""

# Chart geometry, in SVG user units: the plot area, and room around it for ticks, labels and names.
WIDTH, HEIGHT = 720, 400
LEFT, RIGHT, TOP, BOTTOM = 80, 130, 20, 50


def write_html_report(paths: list[Path], out: Path) -> None:
    """The page of the release manifests at `paths`, sorted by model, format and variant."""
    manifests = sorted((Manifest.load(path) for path in paths), key=lambda m: (m.model, m.format, m.variant))
    write_text(out, render_report(manifests))


def _style() -> str:
    """The page's CSS: the shared rules, then each format's colour for its chart points."""
    return STYLE + "".join(f"svg .{f.name} {{ fill: {f.colour}; }}\n" for f in formats.formats())


def render_report(manifests: list[Manifest]) -> str:
    by_model: dict[str, list[Manifest]] = defaultdict(list)
    for manifest in manifests:
        by_model[manifest.model].append(manifest)
    sections = [model_section(model, variants) for model, variants in sorted(by_model.items())]
    summary = f"{len(manifests)} released variants of {len(by_model)} models." if manifests else "No released variants."
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>modelprep release report</title>\n<style>{_style()}</style>\n</head>\n<body>\n"
            f"<h1>modelprep release report</h1>\n<p>{summary} Accuracy is measured against the model's fp32 "
            "reference; speed and peak memory on the build device.</p>\n"
            + "".join(sections) + "</body>\n</html>\n")


def model_section(model: str, manifests: list[Manifest]) -> str:
    kind = manifests[0].kind
    return (f'<section data-model="{_esc(model)}">\n<h2>{_esc(model)} <small>({_esc(kind.name)})</small></h2>\n'
            f"<h3>Variants</h3>\n{variants_table(kind, manifests)}"
            f"<h3>Memory per serving profile</h3>\n{memory_table(manifests)}"
            f"<h3>Size against accuracy</h3>\n{size_accuracy_chart(model, kind, manifests)}</section>\n")


# --- the variants table ---------------------------------------------------------------------------

def variants_table(kind: ModelKind, manifests: list[Manifest]) -> str:
    headers = ["variant", "format", "size", *kind.accuracy_headers, "latency", "throughput", "device"]
    rows = [[m.format, f"{m.size_bytes / MIB:.2f} MiB", *kind.accuracy_cells(m.accuracy), *performance_cells(m)]
            for m in manifests]
    return _table("variants", [_header_row(headers)], manifests, rows)


def _measured(manifest: Manifest) -> dict | None:
    """The figures the page shows: the first host's in the variant's measured file (hosts sorted by name),
    so the same files give the same page on any machine."""
    return next(iter(measurements(manifest)), None)


def performance_cells(manifest: Manifest) -> list[str]:
    """Latency, throughput and device, from the variant's measured file."""
    measured = _measured(manifest)
    if not measured:
        return [MISSING] * 3
    rate, latency = manifest.kind.speed(measured["performance"])
    return [latency, rate, measured["device"]]


# --- the memory table -----------------------------------------------------------------------------

def memory_table(manifests: list[Manifest]) -> str:
    """RAM and VRAM estimates per (context, parallel) profile, then what was measured on the build device."""
    profiles = sorted({(p.context, p.parallel) for m in manifests for p in m.profiles})
    rows = [[*_profile_cells(m, profiles), *_measured_memory_cells(m)] for m in manifests]
    return _table("memory", _memory_header(profiles), manifests, rows)


def _memory_header(profiles: list[tuple[int, int]]) -> list[str]:
    """Two header rows: each profile over its RAM and VRAM columns; one row when no manifest has profiles."""
    span = ' rowspan="2"' if profiles else ""
    top = (f"<th{span}>variant</th>"
           + "".join(f'<th colspan="2">context {c}, parallel {p}</th>' for c, p in profiles)
           + f"<th{span}>measured peak RSS</th><th{span}>estimate vs measured</th>")
    second = ["<tr>" + "<th>RAM</th><th>VRAM</th>" * len(profiles) + "</tr>\n"] if profiles else []
    return [f"<tr>{top}</tr>\n", *second]


def _profile_cells(manifest: Manifest, profiles: list[tuple[int, int]]) -> list[str]:
    estimates = {(p.context, p.parallel): p for p in manifest.profiles}
    cells = []
    for key in profiles:
        estimate = estimates.get(key)
        cells += ([human_bytes(estimate.ram_bytes), human_bytes(estimate.vram_bytes)] if estimate
                  else [MISSING, MISSING])
    return cells


def _measured_memory_cells(manifest: Manifest) -> list[str]:
    measured = _measured(manifest)
    if not measured:
        return [MISSING, MISSING]
    check = measured["memory"]
    verdict = "within" if check["within_tolerance"] else "outside"
    comparison = (f"{human_bytes(check['estimate_bytes'])} vs {human_bytes(check['measured_bytes'])}: "
                  f"ratio {check['ratio']:.2f}, {verdict} ±{check['tolerance']:g}")
    return [human_bytes(measured["performance"]["peak_rss_bytes"]), comparison]


# --- table markup ---------------------------------------------------------------------------------

def _table(name: str, header_rows: list[str], manifests: list[Manifest], rows: list[list[str]]) -> str:
    """A table whose body has one row per variant, its first cell the variant's name."""
    body = "".join(f'<tr data-variant="{_esc(m.variant)}"><td>{_esc(m.variant)}</td>'
                   + "".join(f"<td>{_esc(cell)}</td>" for cell in cells) + "</tr>\n"
                   for m, cells in zip(manifests, rows, strict=True))
    return f'<table class="{name}">\n<thead>\n{"".join(header_rows)}</thead>\n<tbody>\n{body}</tbody>\n</table>\n'


def _header_row(headers: list[str]) -> str:
    return "<tr>" + "".join(f"<th>{_esc(h)}</th>" for h in headers) + "</tr>\n"


def _esc(text: object) -> str:
    """Any manifest string as HTML text or attribute value: <, >, &, " and ' escaped."""
    return html.escape(str(text), quote=True)


# --- the size-accuracy chart ----------------------------------------------------------------------

class YAxis(NamedTuple):
    """The accuracy axis of a chart: its ticks (value, label) and value-to-pixel map."""

    ticks: list[tuple[float, str]]
    of: Callable[[float], float]


def size_accuracy_chart(model: str, kind: ModelKind, manifests: list[Manifest]) -> str:
    """Inline SVG scatter: size in MiB against the kind's accuracy figure (mean KLD on a log scale, mean
    cosine on a linear one), one named point per variant."""
    sizes = [m.size_bytes / MIB for m in manifests]
    x_ticks = linear_ticks(0.0, max(sizes))
    x_of = _scale(x_ticks[0], x_ticks[-1], LEFT, WIDTH - RIGHT)
    values = [kind.chart_value(m.accuracy) for m in manifests]
    y = _log_axis(values) if kind.chart_log_scale else _linear_axis(values)
    parts = [_x_axis(x_ticks, x_of), _y_axis(y, kind.chart_title), _legend()]
    for manifest, size, value in zip(manifests, sizes, values, strict=True):
        parts.append(_point(manifest, x_of(size), y.of(value),
                            f"{size:.2f} MiB, {kind.chart_metric} {kind.chart_value_text(value)}"))
    return (f'<svg class="chart" data-model="{_esc(model)}" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_esc(model)}: size against '
            f'{kind.chart_metric}">\n' + "".join(parts) + "</svg>\n")


def _log_axis(values: list[float]) -> YAxis:
    exponents = log_decades(values)
    log_y = _scale(exponents[0], exponents[-1], HEIGHT - BOTTOM, TOP)

    def y_of(value: float) -> float:
        # A value of exactly 0 (a KLD) has no logarithm: it sits on the bottom axis.
        return log_y(math.log10(value)) if value > 0 else HEIGHT - BOTTOM

    return YAxis([(10.0**e, f"1e{e}") for e in exponents], y_of)


def _linear_axis(values: list[float]) -> YAxis:
    ticks = linear_ticks(min(values), max(values))
    return YAxis([(t, _tick_text(t, ticks)) for t in ticks], _scale(ticks[0], ticks[-1], HEIGHT - BOTTOM, TOP))


def linear_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` evenly spaced round ticks (steps of 1, 2 or 5 x 10^k) covering [low, high]."""
    span = high - low or abs(high) * 0.01 or 1.0
    step = _round_step(span / count)
    first, last = math.floor(low / step), math.ceil(high / step)
    if first == last:
        last += 1
    return [k * step for k in range(first, last + 1)]


def log_decades(values: list[float]) -> list[int]:
    """The powers of ten that cover the positive values, at least two of them."""
    positive = [v for v in values if v > 0] or [1.0]
    low, high = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    return list(range(low, max(high, low + 1) + 1))


def _round_step(raw: float) -> float:
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if raw <= m * magnitude)


def _tick_text(value: float, ticks: list[float]) -> str:
    """A tick label with as many decimals as the step between ticks needs."""
    decimals = max(0, -math.floor(math.log10(ticks[1] - ticks[0]) + 1e-9))
    return f"{value:.{decimals}f}"


def _scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    """The linear map from the data interval [low, high] onto the pixel interval [start, end]."""
    return lambda v: start + (v - low) / (high - low) * (end - start)


def _x_axis(ticks: list[float], x_of: Callable[[float], float]) -> str:
    bottom = HEIGHT - BOTTOM
    lines = [f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}"/>\n']
    for tick in ticks:
        x = round(x_of(tick), 1)
        lines.append(f'<line class="grid" x1="{x}" y1="{TOP}" x2="{x}" y2="{bottom}"/>'
                     f'<text x="{x}" y="{bottom + 16}" text-anchor="middle">{_tick_text(tick, ticks)}</text>\n')
    lines.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 10}" text-anchor="middle">size (MiB)</text>\n')
    return "".join(lines)


def _y_axis(axis: YAxis, title: str) -> str:
    lines = [f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}"/>\n']
    for value, text in axis.ticks:
        y = round(axis.of(value), 1)
        lines.append(f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{_esc(text)}</text>\n')
    middle = (TOP + HEIGHT - BOTTOM) / 2
    lines.append(f'<text transform="translate(16 {middle}) rotate(-90)" text-anchor="middle">{_esc(title)}</text>\n')
    return "".join(lines)


def _legend() -> str:
    x = WIDTH - RIGHT + 20
    return "".join(f'<rect class="{fmt.name}" x="{x}" y="{TOP + 18 * i}" width="10" height="10"/>'
                   f'<text x="{x + 16}" y="{TOP + 18 * i + 10}">{fmt.name}</text>\n'
                   for i, fmt in enumerate(formats.formats()))


def _point(manifest: Manifest, x: float, y: float, figures: str) -> str:
    variant = _esc(manifest.variant)
    x, y = round(x, 1), round(y, 1)
    return (f'<g class="point" data-variant="{variant}"><circle class="{_esc(manifest.format)}" cx="{x}" cy="{y}" '
            f'r="5"><title>{variant}: {_esc(figures)}</title></circle>'
            f'<text x="{x + 8}" y="{y - 6}">{variant}</text></g>\n')
