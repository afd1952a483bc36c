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
from typing import Any, NamedTuple

from pipeline.fileio import read_json, write_text
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
svg .gguf { fill: #1f77b4; }
svg .onnx { fill: #d62728; }
"""

# Chart geometry, in SVG user units: the plot area, and room around it for ticks, labels and names.
WIDTH, HEIGHT = 720, 400
LEFT, RIGHT, TOP, BOTTOM = 80, 130, 20, 50


def write_html_report(paths: list[Path], out: Path) -> None:
    """The page of the release manifests at `paths`, sorted by model, format and variant."""
    manifests = sorted((read_json(path) for path in paths), key=lambda m: (m["model"], m["format"], m["variant"]))
    write_text(out, render_report(manifests))


def render_report(manifests: list[dict[str, Any]]) -> str:
    by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for manifest in manifests:
        by_model[manifest["model"]].append(manifest)
    sections = [model_section(model, variants) for model, variants in sorted(by_model.items())]
    summary = f"{len(manifests)} released variants of {len(by_model)} models." if manifests else "No released variants."
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>modelprep release report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>modelprep release report</h1>\n<p>{summary} Accuracy is measured against the model's fp32 "
            "reference; speed and peak memory on the build device.</p>\n"
            + "".join(sections) + "</body>\n</html>\n")


def model_section(model: str, manifests: list[dict[str, Any]]) -> str:
    kind = manifests[0]["kind"]
    return (f'<section data-model="{_esc(model)}">\n<h2>{_esc(model)} <small>({_esc(kind)})</small></h2>\n'
            f"<h3>Variants</h3>\n{variants_table(kind, manifests)}"
            f"<h3>Memory per serving profile</h3>\n{memory_table(manifests)}"
            f"<h3>Size against accuracy</h3>\n{size_accuracy_chart(model, kind, manifests)}</section>\n")


# --- the variants table ---------------------------------------------------------------------------

def variants_table(kind: str, manifests: list[dict[str, Any]]) -> str:
    accuracy_headers = (["mean KLD", "same top-1", "perplexity change"] if kind == "decoder"
                        else ["mean cosine", "min cosine"])
    headers = ["variant", "format", "size", *accuracy_headers, "latency", "throughput", "device"]
    rows = [[m["format"], size_text(m), *accuracy_cells(kind, m["accuracy"]), *performance_cells(m)]
            for m in manifests]
    return _table("variants", [_header_row(headers)], manifests, rows)


def size_bytes(manifest: dict[str, Any]) -> int:
    """What a node downloads: the package's files (as manifests/index.json counts them)."""
    return sum(f["size"] for f in manifest["files"])


def size_text(manifest: dict[str, Any]) -> str:
    return f"{size_bytes(manifest) / MIB:.2f} MiB"


def accuracy_cells(kind: str, accuracy: dict[str, Any]) -> list[str]:
    if kind == "decoder":
        return [f"{accuracy['mean_kld']:.3g}", f"{100 * accuracy['same_top1']:.1f}%",
                f"{accuracy['delta_ppl_pct']:+.2f}%"]
    return [f"{accuracy['mean_cosine']:.5f}", f"{accuracy['min_cosine']:.5f}"]


def performance_cells(manifest: dict[str, Any]) -> list[str]:
    """Latency, throughput and device, from record version 6's measured block."""
    measured = manifest.get("measured")
    if not measured:
        return [MISSING] * 3
    figures = measured["performance"]
    if "decode_tokens_per_s" in figures:
        latency, rate = f"{figures['first_token_ms']:.2f} ms first token", f"{figures['decode_tokens_per_s']:.0f} tok/s"
    else:
        latency, rate = f"{figures['sentence_ms']:.2f} ms per sentence", f"{figures['sentences_per_s']:.0f} sent/s"
    return [latency, rate, measured["device"]]


# --- the memory table -----------------------------------------------------------------------------

def memory_table(manifests: list[dict[str, Any]]) -> str:
    """RAM and VRAM estimates per (context, parallel) profile, then what was measured on the build device."""
    profiles = sorted({(p["context"], p["parallel"]) for m in manifests for p in _profiles(m)})
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


def _profiles(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return manifest.get("memory", {}).get("profiles", [])


def _profile_cells(manifest: dict[str, Any], profiles: list[tuple[int, int]]) -> list[str]:
    estimates = {(p["context"], p["parallel"]): p for p in _profiles(manifest)}
    cells = []
    for key in profiles:
        estimate = estimates.get(key)
        cells += ([human_bytes(estimate["ram_bytes"]), human_bytes(estimate["vram_bytes"])] if estimate
                  else [MISSING, MISSING])
    return cells


def _measured_memory_cells(manifest: dict[str, Any]) -> list[str]:
    measured = manifest.get("measured")
    if not measured:
        return [MISSING, MISSING]
    check = measured["memory"]
    verdict = "within" if check["within_tolerance"] else "outside"
    comparison = (f"{human_bytes(check['estimate_bytes'])} vs {human_bytes(check['measured_bytes'])}: "
                  f"ratio {check['ratio']:.2f}, {verdict} ±{check['tolerance']:g}")
    return [human_bytes(measured["performance"]["peak_rss_bytes"]), comparison]


# --- table markup ---------------------------------------------------------------------------------

def _table(name: str, header_rows: list[str], manifests: list[dict[str, Any]], rows: list[list[str]]) -> str:
    """A table whose body has one row per variant, its first cell the variant's name."""
    body = "".join(f'<tr data-variant="{_esc(m["variant"])}"><td>{_esc(m["variant"])}</td>'
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
    """The accuracy axis of a chart: its ticks (value, label), value-to-pixel map, title and how values read."""

    ticks: list[tuple[float, str]]
    of: Callable[[float], float]
    title: str
    metric: str
    value_text: Callable[[float], str]


def size_accuracy_chart(model: str, kind: str, manifests: list[dict[str, Any]]) -> str:
    """Inline SVG scatter: size in MiB against mean KLD (log scale) or mean cosine, one named point per variant."""
    sizes = [size_bytes(m) / MIB for m in manifests]
    x_ticks = linear_ticks(0.0, max(sizes))
    x_of = _scale(x_ticks[0], x_ticks[-1], LEFT, WIDTH - RIGHT)
    if kind == "decoder":
        values = [m["accuracy"]["mean_kld"] for m in manifests]
        y = _kld_axis(values)
    else:
        values = [m["accuracy"]["mean_cosine"] for m in manifests]
        y = _cosine_axis(values)
    parts = [_x_axis(x_ticks, x_of), _y_axis(y), _legend()]
    for manifest, size, value in zip(manifests, sizes, values, strict=True):
        parts.append(_point(manifest, x_of(size), y.of(value), f"{size:.2f} MiB, {y.metric} {y.value_text(value)}"))
    return (f'<svg class="chart" data-model="{_esc(model)}" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_esc(model)}: size against {y.metric}">\n'
            + "".join(parts) + "</svg>\n")


def _kld_axis(values: list[float]) -> YAxis:
    exponents = log_decades(values)
    log_y = _scale(exponents[0], exponents[-1], HEIGHT - BOTTOM, TOP)

    def y_of(value: float) -> float:
        # A KLD of exactly 0 has no logarithm: it sits on the bottom axis.
        return log_y(math.log10(value)) if value > 0 else HEIGHT - BOTTOM

    return YAxis([(10.0**e, f"1e{e}") for e in exponents], y_of, "mean KL divergence (log scale, lower is better)",
                 "mean KLD", "{:.3g}".format)


def _cosine_axis(values: list[float]) -> YAxis:
    ticks = linear_ticks(min(values), max(values))
    return YAxis([(t, _tick_text(t, ticks)) for t in ticks], _scale(ticks[0], ticks[-1], HEIGHT - BOTTOM, TOP),
                 "mean cosine (higher is better)", "mean cosine", "{:.5f}".format)


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


def _y_axis(axis: YAxis) -> str:
    lines = [f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}"/>\n']
    for value, text in axis.ticks:
        y = round(axis.of(value), 1)
        lines.append(f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{_esc(text)}</text>\n')
    middle = (TOP + HEIGHT - BOTTOM) / 2
    lines.append(f'<text transform="translate(16 {middle}) rotate(-90)" text-anchor="middle">{_esc(axis.title)}</text>\n')
    return "".join(lines)


def _legend() -> str:
    x = WIDTH - RIGHT + 20
    return "".join(f'<rect class="{fmt}" x="{x}" y="{TOP + 18 * i}" width="10" height="10"/>'
                   f'<text x="{x + 16}" y="{TOP + 18 * i + 10}">{fmt}</text>\n'
                   for i, fmt in enumerate(("gguf", "onnx")))


def _point(manifest: dict[str, Any], x: float, y: float, figures: str) -> str:
    variant = _esc(manifest["variant"])
    x, y = round(x, 1), round(y, 1)
    return (f'<g class="point" data-variant="{variant}"><circle class="{_esc(manifest["format"])}" cx="{x}" cy="{y}" '
            f'r="5"><title>{variant}: {_esc(figures)}</title></circle>'
            f'<text x="{x + 8}" y="{y - 6}">{variant}</text></g>\n')
