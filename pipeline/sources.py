"""Model sources: find the Hugging Face folder a params entry names, check it, and import it.

A source is one of
- a local folder (absolute, or relative to the repository root);
- `package:MODULE/SUBDIR`, a model folder shipped inside an installed Python package;
- a hub id `org/name` (with `revision:`), resolved through the normal Hugging Face cache. Online,
  huggingface_hub downloads it; offline (HF_HUB_OFFLINE=1 or no network) it must be cached.
Importing copies the folder into the build tree, so every later stage depends on bytes DVC
tracks, and records the sha256 of every file.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.diskspace import require_free, same_file_system
from pipeline.errors import ModelprepError
from pipeline.fileio import atomic_path, link_with_record, tree_files, write_json
from pipeline.kinds import KINDS
from pipeline.layout import NAME
from pipeline.progress import ByteProgress, log
from pipeline.settings import Reader

STAGE = "import_model"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SAFE_WEIGHTS = "*.safetensors"
PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.txt", "vocab.json")
# Files a model folder carries that conversion and validation never read.
_SKIPPED = (".gitattributes", "README.md")
MODEL_KINDS = tuple(KINDS)
# An SPDX license expression: ids (letters, digits, '.', '-', '+', LicenseRef-...) joined by AND/OR/WITH.
SPDX_EXPRESSION = re.compile(r"^\(?[A-Za-z0-9.+-]+\)?( (AND|OR|WITH) \(?[A-Za-z0-9.+-]+\)?)*$")


@dataclass(frozen=True)
class ModelSpec:
    """One entry of params.yaml `models`."""

    name: str
    source: str
    revision: str | None = None
    kind: str | None = None  # inferred from the config when absent
    allow_pickle: bool = False
    license: str = "NOASSERTION"  # SPDX expression; NOASSERTION (SPDX's word) when params.yaml states none


def read_models(r: Reader, data: Any, where: str) -> dict[str, ModelSpec]:
    data = r.mapping(data, where)
    if not data:
        raise r.error(f"'{where}' lists no model")
    return {name: _model(r, name, entry, f"{where}.{name}") for name, entry in data.items()}


def _model(r: Reader, name: str, entry: Any, where: str) -> ModelSpec:
    if not NAME.fullmatch(str(name)):
        raise r.error(f"model name {name!r} may hold only letters, digits, '-' and '_' (write llama-3.2-1b as "
                      "llama-3_2-1b)")
    entry = r.mapping(entry, where)
    r.no_extra(entry, {"source", "revision", "kind", "allow_pickle", "license"}, where)
    kind = r.get(entry, "kind", str, where, None)
    if kind is not None and kind not in MODEL_KINDS:
        raise r.error(f"'{where}.kind' is {kind!r}; expected one of {', '.join(MODEL_KINDS)}")
    license = r.get(entry, "license", str, where, "NOASSERTION")
    if not SPDX_EXPRESSION.match(license):
        raise r.error(f"'{where}.license' must be an SPDX license expression such as Apache-2.0, got {license!r}")
    return ModelSpec(name=name, source=r.get(entry, "source", str, where), revision=r.get(entry, "revision", str, where,
                     None), kind=kind, allow_pickle=r.get(entry, "allow_pickle", bool, where, False), license=license)


def pick_model(models: dict[str, ModelSpec], name: str, where: str | Path) -> ModelSpec:
    if name not in models:
        raise ModelprepError(where, f"no model named {name!r} under 'models' (known: {', '.join(models)})")
    return models[name]


def resolve(spec: ModelSpec, root: Path) -> tuple[Path, dict[str, Any]]:
    """The local folder of a source, and a description of where it came from for the record."""
    source = spec.source
    if source.startswith("package:"):
        module, _, subdir = source.removeprefix("package:").partition("/")
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise ModelprepError(f"models.{spec.name}.source", f"Python package {module!r} is not installed")
        folder = Path(list(found.submodule_search_locations)[0]) / subdir
        try:
            version = importlib.metadata.version(module.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        return folder, {"kind": "package", "id": source, "package_version": version}
    local = Path(source) if Path(source).is_absolute() else root / source
    if local.exists() or not HUB_ID.match(source):
        if not local.is_dir():
            raise ModelprepError(local, f"models.{spec.name}.source is not a folder (nor a hub id org/name)")
        return local, {"kind": "local", "id": source}
    return _from_hub(spec, local), {"kind": "hub", "id": source, "revision": spec.revision or "main"}


def _from_hub(spec: ModelSpec, local: Path) -> Path:
    """The hub model's snapshot; `local` is the folder the source would also name (a mistyped local
    path looks like a hub id), which every error mentions."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "1_Pooling/*"]
    if spec.allow_pickle:
        patterns += list(PICKLE_WEIGHTS)
    try:
        return Path(snapshot_download(spec.source, revision=spec.revision, allow_patterns=patterns))
    except LocalEntryNotFoundError:
        raise ModelprepError(spec.source, f"no local folder {local} and not in the Hugging Face cache, and the hub "
                                          "cannot be reached; download it once online (huggingface-cli download) "
                                          "or set HF_HOME") from None
    except HfHubHTTPError as err:
        raise ModelprepError(spec.source, f"no local folder {local}, and the Hugging Face hub refused the download: "
                                          f"{str(err).splitlines()[0]}") from None


def check_folder(folder: Path, spec: ModelSpec) -> list[Path]:
    """The files to import, after checking the folder is a complete, safe Hugging Face model."""
    config = folder / "config.json"
    if not config.is_file():
        raise ModelprepError(config, "missing: not a Hugging Face model folder")
    try:
        parsed = json.loads(config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelprepError(config, f"not valid JSON ({err})") from None
    if not isinstance(parsed, dict):
        raise ModelprepError(config, f"not a JSON object (a {type(parsed).__name__}): not a Hugging Face config")
    safetensors = sorted(folder.glob(SAFE_WEIGHTS))
    pickles = sorted(p for pattern in PICKLE_WEIGHTS for p in folder.glob(pattern))
    if not safetensors:
        if not pickles:
            raise ModelprepError(folder, "no weights found (*.safetensors)")
        if not spec.allow_pickle:
            raise ModelprepError(pickles[0], "pickle checkpoints can run code when loaded and are refused; "
                                             f"set models.{spec.name}.allow_pickle: true to accept them")
    for path in safetensors:
        _check_safetensors(path)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ModelprepError(folder, f"missing tokenizer (none of {', '.join(TOKENIZER_FILES)})")
    files = [p for p in tree_files(folder) if p.name not in _SKIPPED
             and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    if safetensors:  # pickles beside safetensors are never needed
        files = [p for p in files if p not in pickles]
    return files


def _check_safetensors(path: Path) -> None:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "np") as handle:
            handle.keys()
    except (SafetensorError, OSError) as err:
        raise ModelprepError(path, f"corrupt safetensors file: {err}") from None


def infer_kind(folder: Path, spec: ModelSpec) -> str:
    if spec.kind:
        return spec.kind
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    architectures = config.get("architectures") or []
    return "decoder" if any(a.endswith("ForCausalLM") for a in architectures) else "encoder"


def import_model(spec: ModelSpec, root: Path, out_dir: Path, record_path: Path) -> None:
    """Bring the model's files into `out_dir` as reflinks or hard links of the source (the Hugging Face
    cache's files, or the folder params.yaml names) where the file system allows, copies elsewhere, and
    record each file's size and sha256."""
    folder, origin = resolve(spec, root)
    files = check_folder(folder, spec)
    total = sum(p.stat().st_size for p in files)
    if not same_file_system(folder, out_dir.parent):
        require_free(out_dir.parent, total, f"a copy of {spec.name}")
    progress = ByteProgress(STAGE, f"importing {spec.name} (linked where possible, then hashed)", total)
    with atomic_path(out_dir, directory=True) as tmp:
        imported = [link_with_record(p, tmp / p.relative_to(folder), tmp, progress) for p in files]
        progress.finish()
        record = {
            "kind": infer_kind(tmp, spec),
            "origin": origin,
            "files": sorted((r for r, _ in imported), key=lambda r: r["path"]),
        }
    write_json(record_path, record)
    ways = Counter(how for _, how in imported)
    log(STAGE, f"{spec.name}: {len(files)} files from {origin['kind']} source {origin['id']}, {record['kind']}; "
               + ", ".join(f"{n} {how}" for how, n in sorted(ways.items())))
