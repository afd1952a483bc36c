"""manifests/report.html as a reader sees it: rendered by headless Chromium, checked against the manifests.

The expected figures are formatted here from the manifests themselves, so a page that shows a
wrong, missing or mislabelled figure fails; the chart's points are checked to sit on linear
(size, mean cosine) or logarithmic (mean KLD) axes.
"""

import json
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.errors import ModelprepError
from pipeline.hardware.match import manifests_in
from pipeline.index import released_manifests
from pipeline.layout import Layout
from pipeline.params import load_params
from pipeline.progress import human_bytes
from pipeline.report_html import write_html_report

ROOT = Path(__file__).resolve().parent.parent
DASH = "—"
EVIL_VARIANT = "Q4<script>alert(\"x\")</script>&'b'"


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if not path:
        pytest.fail("chromium is not installed; `make test` installs it, or run `apt-get install -y chromium` as root")
    return path


def released(manifests_dir: Path) -> list[dict]:
    """The released manifests, each with the first host's entry of its measured file (the one the page
    shows) under "measured", where it has one."""
    manifests = []
    for path in manifests_in(manifests_dir):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        sidecar = path.with_name(f"{path.stem}.measured.json")
        entries = json.loads(sidecar.read_text(encoding="utf-8"))["measured"] if sidecar.is_file() else []
        manifests.append(manifest | ({"measured": entries[0]} if entries else {}))
    return manifests


class RenderedPage(HTMLParser):
    """What the rendered DOM holds: table cells per (model, table, variant), chart points and labels per model."""

    def __init__(self, dom: str):
        super().__init__()
        self.tags: set[str] = set()
        self.external: list[str] = []
        self.headers: dict[tuple[str, str], list[str]] = {}
        self.rows: dict[tuple[str, str], dict[str, list[str]]] = {}
        self.charts: dict[str, int] = {}
        self.points: dict[str, dict[str, tuple[float, float]]] = {}
        self.chart_texts: dict[str, list[str]] = {}
        self._model = self._table = self._row = self._point = None
        self._text: list[str] | None = None
        self._in_chart = False
        self.feed(dom)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        self.external += [v for k, v in attrs.items()
                          if k.endswith(("src", "href")) and v and re.match(r"\s*(https?:)?//", v)]
        if tag == "section" and "data-model" in attrs:
            self._model = attrs["data-model"]
        elif tag == "table":
            self._table = (self._model, attrs.get("class"))
            self.headers[self._table], self.rows[self._table] = [], {}
        elif tag == "tr" and "data-variant" in attrs:
            self._row = self.rows[self._table].setdefault(attrs["data-variant"], [])
        elif tag in ("td", "th", "text"):
            self._text = []
        elif tag == "svg" and attrs.get("class") == "chart":
            self.charts[attrs["data-model"]] = self.charts.get(attrs["data-model"], 0) + 1
            self._in_chart = True
        elif tag == "g" and attrs.get("class") == "point":
            self._point = attrs["data-variant"]
        elif tag == "circle" and self._point is not None:
            self.points.setdefault(self._model, {})[self._point] = (float(attrs["cx"]), float(attrs["cy"]))

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        text = "".join(self._text or []).strip()
        if tag == "td":
            self._row.append(text)
        elif tag == "th":
            self.headers[self._table].append(text)
        elif tag == "text" and self._in_chart:
            self.chart_texts.setdefault(self._model, []).append(text)
        elif tag == "g":
            self._point = None
        elif tag == "svg":
            self._in_chart = False
        if tag in ("td", "th", "text"):
            self._text = None


def render(chromium: str, manifests_dir: Path, tmp_path: Path) -> tuple[str, RenderedPage]:
    """Write the report of `manifests_dir` and have Chromium load it: the file's text and the rendered DOM."""
    page = tmp_path / "report.html"
    write_html_report(manifests_in(manifests_dir), page)
    text = page.read_text(encoding="utf-8")
    # Checked before loading: a script that got through (an alert) would stall Chromium until the timeout.
    assert "<script" not in text.lower(), "the page holds a script"
    result = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                             f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom", page.as_uri()],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "</html>" in result.stdout, f"chromium failed: {result.stderr[-2000:]}"
    return text, RenderedPage(result.stdout)


def expected_cells(manifest: dict) -> dict[str, str]:
    """The variants-table cells a manifest must show, by column header."""
    accuracy = manifest["accuracy"]
    cells = {"format": manifest["format"], "size": f"{sum(f['size'] for f in manifest['files']) / 2**20:.2f} MiB"}
    if manifest["kind"] == "decoder":
        cells |= {"mean KLD": f"{accuracy['mean_kld']:.3g}", "same top-1": f"{100 * accuracy['same_top1']:.1f}%",
                  "perplexity change": f"{accuracy['delta_ppl_pct']:+.2f}%"}
    else:
        cells |= {"mean cosine": f"{accuracy['mean_cosine']:.5f}", "min cosine": f"{accuracy['min_cosine']:.5f}"}
    if "measured" not in manifest:
        return cells | {"latency": DASH, "throughput": DASH, "device": DASH}
    figures = manifest["measured"]["performance"]
    if manifest["kind"] == "decoder":
        speed = {"latency": f"first token {figures['first_token_ms']:.2f} ms",
                 "throughput": f"{figures['decode_tokens_per_s']:.0f} tok/s"}
    else:
        speed = {"latency": f"one sentence {figures['sentence_ms']:.2f} ms",
                 "throughput": f"{figures['sentences_per_s']:.0f} sent/s"}
    return cells | speed | {"device": manifest["measured"]["device"]}


def expected_memory_cells(manifest: dict) -> list[str]:
    """Figures the memory table's row must hold: every profile's RAM and VRAM, and the measured peak."""
    cells = [human_bytes(p[key]) for p in manifest.get("memory", {}).get("profiles", [])
             for key in ("ram_bytes", "vram_bytes")]
    if "measured" in manifest:
        cells.append(human_bytes(manifest["measured"]["performance"]["peak_rss_bytes"]))
    return cells


def assert_on_a_line(pairs: list[tuple[float, float]], increasing: bool) -> None:
    """Pixels are a linear function of the values (to the 0.1 px the page rounds to), in the given direction."""
    (low, low_px), (high, high_px) = min(pairs), max(pairs)
    assert (high_px > low_px) == increasing, f"axis runs the wrong way: {pairs}"
    for value, pixel in pairs:
        assert pixel == pytest.approx(low_px + (value - low) / (high - low) * (high_px - low_px), abs=0.2)


def assert_chart(page: RenderedPage, model: str, manifests: list[dict]) -> None:
    assert page.charts.get(model) == 1, f"{model}: one chart expected"
    points = page.points[model]
    assert sorted(points) == sorted(m["variant"] for m in manifests), f"{model}: one point per variant"
    assert all(m["variant"] in page.chart_texts[model] for m in manifests), f"{model}: every point labelled"
    assert "size (MiB)" in page.chart_texts[model]
    assert sum(bool(re.fullmatch(r"[\d.e-]+", t)) for t in page.chart_texts[model]) >= 4, "ticks on both axes"
    assert_on_a_line([(sum(f["size"] for f in m["files"]), points[m["variant"]][0]) for m in manifests], True)
    if manifests[0]["kind"] == "decoder":
        assert any(t.startswith("mean KL divergence (log scale") for t in page.chart_texts[model])
        values = [math.log10(m["accuracy"]["mean_kld"]) for m in manifests]
    else:
        assert any(t.startswith("mean cosine") for t in page.chart_texts[model])
        values = [m["accuracy"]["mean_cosine"] for m in manifests]
    # SVG's y grows downward: a larger value sits higher, at a smaller y.
    assert_on_a_line([(v, points[m["variant"]][1]) for v, m in zip(values, manifests, strict=True)], False)


def assert_page_shows(page: RenderedPage, text: str, manifests: list[dict]) -> None:
    """Every manifest's figures in its model's tables, one chart per model, and nothing fetched from elsewhere."""
    models = sorted({m["model"] for m in manifests})
    for model in models:
        variants = [m for m in manifests if m["model"] == model]
        table = page.rows[(model, "variants")]
        assert sorted(table) == sorted(m["variant"] for m in variants), f"{model}: one row per released variant"
        headers = page.headers[(model, "variants")]
        for manifest in variants:
            row = dict(zip(headers, table[manifest["variant"]], strict=True))
            assert row["variant"] == manifest["variant"]
            for column, expected in expected_cells(manifest).items():
                assert row[column] == expected, f"{model} {manifest['variant']} {column}"
            memory_row = page.rows[(model, "memory")][manifest["variant"]]
            for expected in expected_memory_cells(manifest) or [DASH]:
                assert expected in memory_row, f"{model} {manifest['variant']} memory: {expected} in {memory_row}"
        assert_chart(page, model, variants)
    assert not page.external and not page.tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//|url\(|@import", text, re.IGNORECASE)


def test_the_report_shows_every_released_variant(chromium, tmp_path):
    manifests = released(ROOT / "manifests")
    assert manifests, "no release manifests in manifests/"
    text, page = render(chromium, ROOT / "manifests", tmp_path)
    assert_page_shows(page, text, manifests)


def with_measurements(manifest: dict) -> dict:
    """A manifest with memory estimates and a measured entry, figures made up around its size."""
    size = sum(f["size"] for f in manifest["files"])
    profiles = [{"context": 128, "parallel": parallel, "weights_bytes": size, "kv_cache_bytes": 4096 * parallel,
                 "compute_bytes": 2**20, "overhead_bytes": 2**22, "ram_bytes": size + 2**22 + 4096 * parallel,
                 "vram_bytes": size + 2**21 + 4096 * parallel} for parallel in (1, 4)]
    if manifest["kind"] == "decoder":
        figures = {"first_token_ms": 4.831, "decode_tokens_per_s": 5259.4, "prompt_tokens": 64, "new_tokens": 32}
    else:
        figures = {"sentence_ms": 4.317, "sentences_per_s": 181.2, "sentences": 64}
    figures |= {"peak_rss_bytes": size + 60 * 2**20, "baseline_rss_bytes": 50 * 2**20}
    return manifest | {
        "memory": {"estimator": "modelprep-memory/1", "disk_bytes": size, "profiles": profiles},
        "gpu_fit": [{"context": 128, "parallel": 1, "gpus": ["T4"]}],
        "measured": {"host": "<Test & CPU>", "device": "cpu:<Test & CPU>", "runtime": "test", "performance": figures,
                     "settings": {"device": "cpu", "threads": 2, "prompt_tokens": 64, "new_tokens": 32,
                                  "sentences": 64, "repeats": 3},
                     "memory": {"workload": {"context": 128, "parallel": 1}, "estimate_bytes": size + 2**21,
                                "measured_bytes": size, "ratio": 1.05, "tolerance": 0.25, "within_tolerance": True}}}


def _write(manifests: list[dict], folder: Path) -> None:
    """Each manifest as a file, its "measured" entry as its measured file."""
    for i, manifest in enumerate(manifests):
        path = folder / "manifests" / manifest["model"] / f"{i}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {k: v for k, v in manifest.items() if k != "measured"}
        path.write_text(json.dumps(record), encoding="utf-8")
        if "measured" in manifest:
            document = {"model": manifest["model"], "variant": manifest["variant"], "measured": [manifest["measured"]],
                        "package_cid_v1": manifest["content"]["package"]["cid_v1"]}
            path.with_name(f"{i}.measured.json").write_text(json.dumps(document), encoding="utf-8")


def test_markup_in_a_name_is_refused_and_old_records_show_dashes(chromium, tmp_path):
    manifests = [with_measurements(m) for m in released(ROOT / "manifests")]
    # Names become paths and page text: one holding markup is refused before anything is written.
    hostile = [dict(manifests[0], variant=EVIL_VARIANT)]
    _write(hostile, tmp_path / "hostile")
    with pytest.raises(ModelprepError, match=r"'variant' is .*a name of letters, digits, '-' and '_'"):
        render(chromium, tmp_path / "hostile" / "manifests", tmp_path / "hostile")
    old = manifests[1]
    for block in ("memory", "measured", "gpu_fit"):
        old.pop(block)
    _write(manifests, tmp_path)
    text, page = render(chromium, tmp_path / "manifests", tmp_path)
    assert_page_shows(page, text, manifests)
    assert set(page.rows[(old["model"], "memory")][old["variant"]][1:]) == {DASH}


def test_committed_page_is_what_the_committed_manifests_give(tmp_path):
    """`make release` wrote manifests/report.html in another process: the same manifests give the same bytes."""
    page = tmp_path / "out" / "report.html"
    write_html_report(released_manifests(load_params(ROOT / "params.yaml"), Layout(ROOT)), page)
    assert page.read_bytes() == (ROOT / "manifests" / "report.html").read_bytes()
    assert [p.name for p in page.parent.iterdir()] == ["report.html"], "no temporary file left behind"
