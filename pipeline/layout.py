"""Where every build path lives, per model and variant: the one place that spells them.

The stages, the release table, the index, the bench and the tests ask the layout; dvc.yaml spells
the same paths for DVC, and `tests/test_layout.py` fails when the two differ. One rule for every
format: a model's base artifact of format F is the folder `build/<model>/base/<F>/`, and a
variant's artifact is the folder `build/<model>/variants/<variant>/`, holding exactly the files a
node downloads (one GGUF file, or an ONNX directory).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BUILD, MANIFESTS = "build", "manifests"
# Model and variant names are path segments here and keys of DVC's `models.<name>` params paths: a dot
# would split the key, '/' or '..' would leave the folder, a space would break a stage command.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Layout:
    root: Path = Path(".")

    # Shared inputs ------------------------------------------------------------------------------
    @property
    def corpus(self) -> Path:
        return self.root / BUILD / "corpus"

    @property
    def plan(self) -> Path:
        """Which per-model artifacts any variant reads (stages/plan.py)."""
        return self.root / BUILD / "plan.json"

    def example(self, name: str) -> Path:
        return self.root / BUILD / "examples" / name

    # Per model ----------------------------------------------------------------------------------
    def model(self, model: str) -> Path:
        return self.root / BUILD / model

    def hf(self, model: str) -> Path:
        """The imported Hugging Face folder."""
        return self.model(model) / "hf"

    def source_record(self, model: str) -> Path:
        return self.model(model) / "source.json"

    def reference(self, model: str) -> Path:
        return self.model(model) / "reference"

    def imatrix(self, model: str) -> Path:
        """llama.cpp's importance matrix of the model (GGUF variants with `imatrix: true`)."""
        return self.model(model) / "imatrix"

    def base(self, model: str, fmt: str) -> Path:
        """The unquantized artifact of format `fmt` every variant of that format is made from."""
        return self.model(model) / "base" / fmt

    def plot(self, model: str) -> Path:
        """Size against accuracy of every variant (a DVC plot)."""
        return self.model(model) / "plot.json"

    def metrics_dir(self, model: str) -> Path:
        return self.model(model) / "metrics"

    # Per model x variant ------------------------------------------------------------------------
    def artifact(self, model: str, variant: str) -> Path:
        """The variant's folder: exactly the files its package holds besides the record."""
        return self.model(model) / "variants" / variant

    def metrics(self, model: str, variant: str) -> Path:
        """The variant's accuracy and size (a DVC metric)."""
        return self.metrics_dir(model) / f"{variant}.json"

    def evaluation(self, model: str, variant: str) -> Path:
        """How the variant's figures were measured (devices, evaluation data)."""
        return self.model(model) / "evaluation" / f"{variant}.json"

    def timing(self, model: str, name: str) -> Path:
        """How fast this machine scored the reference or a variant (`name`) when it last ran that stage.
        Not a DVC output: outputs must be the same bytes on every build, and a stage DVC restores from
        its cache leaves none. The benchmarks read them; releases carry `modelprep measure`'s figures."""
        return self.model(model) / "timings" / f"{name}.json"

    def probes(self, model: str, variant: str) -> Path:
        return self.model(model) / "probes" / f"{variant}.json"

    def release_record(self, model: str, variant: str) -> Path:
        """What the release stage writes (a cached DVC output); `modelprep collect` copies it to `manifest`."""
        return self.model(model) / "release" / f"{variant}.json"

    def manifest(self, model: str, variant: str) -> Path:
        return self.manifests / model / f"{variant}.json"

    def car(self, model: str, variant: str) -> Path:
        return self.model(model) / "package" / f"{variant}.car"

    # What registries read -----------------------------------------------------------------------
    @property
    def manifests(self) -> Path:
        return self.root / MANIFESTS

    @property
    def schema(self) -> Path:
        return self.manifests / "schema"

    @property
    def index_json(self) -> Path:
        return self.manifests / "index.json"

    @property
    def index_parquet(self) -> Path:
        return self.manifests / "index.parquet"

    @property
    def report_html(self) -> Path:
        return self.manifests / "report.html"


REPO = Layout(Path(__file__).resolve().parent.parent)  # the source checkout this code runs from
