"""Fuzzing the readers of what arrives from elsewhere: a release manifest (from a registry, a bucket or
a pull) and a CAR (from a gateway or a pin). Whatever the bytes, a reader accepts them or raises one
ModelprepError naming the file, never another exception. Starting points are real: a built manifest
and the CAR of a small package, mutated (bytes flipped, cut, inserted; JSON values replaced) or
replaced by arbitrary bytes. Bounded and repeatable: a fixed number of derandomized examples and no
deadline (these machines are noisy)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import ModelprepError
from pipeline.ipfs.car import car_roots, verify_car, write_car
from pipeline.ipfs.cid import read_varint, varint
from pipeline.ipfs.profiles import PROFILES
from pipeline.manifest.document import Manifest
from pipeline.manifest.schema import validation_errors
from tests.project import REPO

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
MANIFEST = json.loads((REPO / "manifests/tiny-llama/Q8_0.json").read_text())


def _package_car(folder: Path) -> bytes:
    package = folder / "package"
    (package / "tokenizer").mkdir(parents=True)
    (package / "model.bin").write_bytes(random.Random(0).randbytes(300_000))  # more than one leaf block
    (package / "tokenizer" / "vocab.txt").write_bytes(b"hello\nworld\n")
    write_car(package, PROFILES["unixfs-v1-2025"], folder / "package.car")
    return (folder / "package.car").read_bytes()


def _mutations(data: bytes):
    """`data` with a few of its bytes flipped, a span cut out or bytes inserted."""
    position = st.integers(0, len(data) - 1)
    flip = st.tuples(st.just("flip"), position, st.integers(1, 255))
    cut = st.tuples(st.just("cut"), position, st.integers(1, 4096))
    insert = st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=64))

    def apply(edits):
        out = bytearray(data)
        for kind, at, value in edits:
            at = min(at, len(out) - 1) if out else 0
            if kind == "flip" and out:
                out[at] ^= value
            elif kind == "cut":
                del out[at:at + value]
            elif kind == "insert":
                out[at:at] = value
        return bytes(out)

    return st.lists(st.one_of(flip, cut, insert), min_size=1, max_size=4).map(apply)


def _read_car(path: Path) -> None:
    try:
        car_roots(path)
        verify_car(path)
    except ModelprepError as err:
        assert str(err).startswith(f"{path}: ")


def test_the_car_reader_answers_every_mutation_with_one_error(tmp_path_factory):
    folder = tmp_path_factory.mktemp("car")
    good = _package_car(folder)

    @FUZZ
    @given(st.one_of(_mutations(good), st.binary(max_size=2048)))
    def read(data):
        path = folder / "fuzzed.car"
        path.write_bytes(data)
        _read_car(path)

    read()


def test_a_length_past_the_end_of_the_file_is_refused_before_it_is_read(tmp_path):
    """What the fuzzer found: a header or section length of 2**60 was allocated (MemoryError)."""
    good = _package_car(tmp_path)
    size, start = read_varint(good, 0)
    for data in (varint(2 ** 60) + good[start:], good[:start + size] + varint(2 ** 60) + b"x"):
        path = tmp_path / "long.car"
        path.write_bytes(data)
        with pytest.raises(ModelprepError, match=r"of 1152921504606846976 bytes runs past the end of the file"):
            verify_car(path)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=20)


def _replace(document, path: list[int], value):
    """`document` with the node that `path` picks (each step an index into a container's children)
    replaced by `value`."""
    if not path or not isinstance(document, (dict, list)) or not document:
        return value
    keys = list(document) if isinstance(document, dict) else list(range(len(document)))
    key = keys[path[0] % len(keys)]
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[key] = _replace(document[key], path[1:], value)
    return copy


def _read_manifest(path: Path) -> None:
    try:
        manifest = Manifest.load(path)
        if not validation_errors(manifest.data):  # what a consumer reads once the schema holds
            _ = (manifest.model, manifest.variant, manifest.files, manifest.content.cid_v1, manifest.profiles)
    except ModelprepError as err:
        assert str(err).startswith(f"{path}: ")


def test_the_manifest_reader_answers_every_mutation_with_one_error(tmp_path_factory):
    folder = tmp_path_factory.mktemp("manifest")
    text = json.dumps(MANIFEST, indent=2).encode()

    @FUZZ
    @given(st.one_of(
        st.tuples(st.lists(st.integers(0, 50), max_size=6), JSON).map(lambda edit: json.dumps(
            _replace(MANIFEST, *edit)).encode()),
        _mutations(text),
        st.binary(max_size=512),
        st.integers(1, 100_000).map(lambda depth: b"[" * depth + b"]" * depth),
        # a real manifest with one field nested as deep as the parser allows, or deeper
        st.tuples(st.sampled_from(sorted(MANIFEST)), st.integers(1, 5000)).map(lambda edit: text.replace(
            f'"{edit[0]}": '.encode(), f'"{edit[0]}": '.encode() + b'{"a": ' * edit[1] + b"1" + b"}" * edit[1]
            + b', "_": ', 1)),
    ))
    def read(data):
        path = folder / "Q8_0.json"
        path.write_bytes(data)
        _read_manifest(path)

    read()
