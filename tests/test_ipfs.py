"""Content ids against Kubo's own published vectors, and CAR files that a reader re-hashes block by block."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from pipeline.errors import ModelprepError
from pipeline.ipfs.car import read_car, verify_car, write_car
from pipeline.ipfs.cid import read_varint
from pipeline.ipfs.directory import add_path, add_stream
from pipeline.ipfs.hamt import murmur3_64
from pipeline.ipfs.profiles import PROFILES
from tests.project import BIN, run

V0, V1 = PROFILES["unixfs-v0-2015"], PROFILES["unixfs-v1-2025"]


class KuboTestData(io.RawIOBase):
    """The bytes of Kubo's test harness (`DeterministicRandomReader`): the ChaCha20 keystream under
    key sha256(seed) and a zero nonce."""

    def __init__(self, seed: str, size: int):
        key = hashlib.sha256(seed.encode()).digest()
        self.cipher = Cipher(algorithms.ChaCha20(key, bytes(16)), None).encryptor()
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return self.cipher.update(bytes(size))


def file_cid(data: io.RawIOBase | bytes, profile) -> str:
    return str(add_stream(io.BytesIO(data) if isinstance(data, bytes) else data, profile).cid)


@pytest.mark.parametrize("content, v0, v1", [
    (b"", "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
     "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"),
    (b"hello world", "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD",
     "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"),
    (b"hello world\n", "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
     "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"),
])
def test_single_block_files(content, v0, v1):
    assert file_cid(content, V0) == v0
    assert file_cid(content, V1) == v1


def test_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    assert str(add_path(tmp_path / "empty", V0).cid) == "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
    assert str(add_path(tmp_path / "empty", V1).cid) == "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"


# ipfs/kubo test/cli/cid_profiles_test.go: a file of exactly max-links chunks (one level under the root)
# and one chunk more, which the balanced layout rebalances into a second level.
@pytest.mark.parametrize("profile, seed, size, expected", [
    (V0, "v0-seed", 44544 * 1024, "QmUbBALi174SnogsUzLpYbD4xPiBSFANF4iztWCsHbMKh2"),
    (V0, "v0-seed", 44800 * 1024, "QmepeWtdmS1hHXx1oZXsPUv6bMrfRRKfZcoPPU4eEfjnbf"),
    (V1, "v1-2025-seed", 1024 * 2**20, "bafybeihmf37wcuvtx4hpu7he5zl5qaf2ineo2lqlfrapokkm5zzw7zyhvm"),
    (V1, "v1-2025-seed", 1025 * 2**20, "bafybeihmzokxxjqwxjcryerhp5ezpcog2wcawfryb2xm64xiakgm4a5jue"),
], ids=["v0-at-max-links", "v0-over-max-links", "v1-at-max-links", "v1-over-max-links"])
def test_multi_level_files_match_kubo(profile, seed, size, expected):
    assert file_cid(KuboTestData(seed, size), profile) == expected


def kubo_directory(folder: Path, seed: str, files: int, name_length: int, last_name_length: int) -> Path:
    """Kubo's threshold test directories: names drawn from its 'easy' alphabet with the seeded
    keystream, each file holding "x"."""
    alphabet = "abcdefghijklmnopqrstuvwxyz01234567890-_"
    names = KuboTestData(seed, 2**20)
    folder.mkdir()
    for index in range(files):
        length = last_name_length if index == files - 1 else name_length
        (folder / "".join(alphabet[b % len(alphabet)] for b in names.read(length))).write_bytes(b"x")
    return folder


def test_directories_at_the_hamt_threshold_match_kubo(tmp_path):
    # Exactly at the threshold a directory stays basic (the comparison is strictly greater).
    v0 = kubo_directory(tmp_path / "v0", "hamt-unixfs-v0-2015", 4096, 30, 30)
    assert str(add_path(v0, V0).cid) == "QmX5GtRk3TSSEHtdrykgqm4eqMEn3n2XhfkFAis5fjyZmN"
    v1 = kubo_directory(tmp_path / "v1", "hamt-unixfs-v1-2025", 4766, 11, 21)
    assert str(add_path(v1, V1).cid) == "bafybeic3h7rwruealwxkacabdy45jivq2crwz6bufb5ljwupn36gicplx4"


@pytest.mark.parametrize("profile, seed, files, name_length, last_name_length, expected", [
    (V0, "hamt-unixfs-v0-2015", 4033, 31, 31, "QmeMiJzmhpJAUgynAcxTQYek5PPKgdv3qEvFsdV3XpVnvP"),
    (V1, "hamt-unixfs-v1-2025", 4766, 11, 22, "bafybeiegvuterwurhdtkikfhbxcldohmxp566vpjdofhzmnhv6o4freidu"),
], ids=["v0", "v1"])
def test_one_byte_over_the_threshold_is_a_hamt_shard_as_kubo_makes_it(tmp_path, profile, seed, files, name_length,
                                                                      last_name_length, expected):
    folder = kubo_directory(tmp_path / "dir", seed, files, name_length, last_name_length)
    root, blocks = write_car(folder, profile, tmp_path / "hamt.car")
    assert str(root.cid) == expected
    # The root shard has at most 256 links, and the CAR holds a complete DAG of the shards and every file.
    assert verify_car(tmp_path / "hamt.car") == (root.cid, blocks)
    assert blocks > 256 + 1


def test_murmur3_matches_the_published_x64_128_values():
    # MurmurHash3_x64_128 with seed 0 (first 64 bits): the empty input hashes to zero; "hello" and
    # a 16-byte-block input as the reference implementation gives them.
    assert murmur3_64(b"") == bytes(8)
    assert murmur3_64(b"hello").hex() == "cbd8a7b341bd9b02"
    assert murmur3_64(b"The quick brown fox jumps over the lazy dog").hex() == "e34bbc7bbc071b6c"


def test_wrapping_is_a_directory_holding_the_entry_by_name(tmp_path):
    (tmp_path / "outer").mkdir()
    (tmp_path / "outer" / "hello.txt").write_bytes(b"hello world\n")
    (tmp_path / "outer" / ".hidden").write_bytes(b"left out, as Kubo leaves dotfiles out")
    for profile in (V0, V1):
        assert add_path(tmp_path / "outer" / "hello.txt", profile, wrap=True).cid == add_path(tmp_path / "outer",
                                                                                             profile).cid


def package(tmp_path: Path) -> Path:
    folder = tmp_path / "package"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "model.bin").write_bytes(KuboTestData("package", 3 * 2**20 + 5).read())
    (folder / "copy.bin").write_bytes((folder / "model.bin").read_bytes())  # same blocks: stored once
    (folder / "tokenizer" / "vocab.txt").write_text("hello\nworld\n")
    return folder


@pytest.mark.parametrize("profile", [V0, V1], ids=lambda p: p.name)
def test_car_round_trip(tmp_path, profile):
    folder = package(tmp_path)
    root, blocks = write_car(folder, profile, tmp_path / "package.car")
    assert root.cid == add_path(folder, profile).cid
    assert verify_car(tmp_path / "package.car") == (root.cid, blocks)
    roots, stored = read_car(tmp_path / "package.car")
    cids = [cid for cid, _ in stored]
    assert roots == [root.cid] and len(cids) == len(set(cids)) == blocks
    # 3 MiB + 5 bytes: v1 makes 4 raw leaves + a parent; v0 13 chunk leaves + a parent; plus the vocab file,
    # the tokenizer folder and the package folder.
    assert blocks == (5 + 3 if profile is V1 else 14 + 3)


def test_car_reader_catches_a_flipped_byte_and_a_missing_block(tmp_path):
    folder = package(tmp_path)
    write_car(folder, V1, tmp_path / "good.car")
    data = bytearray((tmp_path / "good.car").read_bytes())
    header_size, start = read_varint(data, 0)
    first_section = start + header_size
    size, body = read_varint(data, first_section)
    flipped = bytearray(data)
    flipped[body + size - 1] ^= 1  # last byte of the first block
    (tmp_path / "flipped.car").write_bytes(flipped)
    with pytest.raises(ModelprepError, match="does not hash to its CID"):
        verify_car(tmp_path / "flipped.car")
    (tmp_path / "missing.car").write_bytes(data[:first_section] + data[body + size:])
    with pytest.raises(ModelprepError, match="missing from the CAR"):
        verify_car(tmp_path / "missing.car")


def test_command_line(tmp_path):
    (tmp_path / "hello.txt").write_bytes(b"hello world\n")
    modelprep = str(BIN / "modelprep")
    assert run([modelprep, "cid", "hello.txt"], cwd=tmp_path).stdout.strip() == \
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
    assert run([modelprep, "cid", "--profile", "unixfs-v0-2015", "hello.txt"], cwd=tmp_path).stdout.strip() == \
        "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    written = run([modelprep, "car", ".", "out/hello.car"], cwd=tmp_path).stdout
    assert "nothing pinned to a network" in written
    assert "every block matches its CID" in run([modelprep, "car-verify", "out/hello.car"], cwd=tmp_path).stdout
    missing = run([modelprep, "cid", "nothere"], cwd=tmp_path, check=False)
    assert missing.returncode == 1 and missing.stderr.strip() == "modelprep: error: nothere: no such file or directory"


def test_published_directory_vectors_nested_and_wrapped(tmp_path):
    # Kubo test/sharness/t0040-add-and-cat.sh: `ipfs add -r .` of a folder with a file and a sub-folder.
    folder = tmp_path / "test_current_dir"
    (folder / "hello").mkdir(parents=True)
    (folder / "hey").write_bytes(b"Hey\n")
    (folder / "hello" / "world").write_bytes(b"World\n")
    assert str(add_path(folder, V0).cid) == "QmZQWnfcqJ6hNkkPvrY9Q5X39GP3jUnUbAV4AbmbbR3Cb1"
    # `ipfs add -w hello.txt` holding "hello world", as the net-ipfs-engine documentation's "Wrapping"
    # example publishes it (its file CID, Qmf412..., is Kubo's): a directory with the one named link.
    (tmp_path / "wrap").mkdir()
    (tmp_path / "wrap" / "hello.txt").write_bytes(b"hello world")
    wrapped = add_path(tmp_path / "wrap" / "hello.txt", V0, wrap=True)
    assert str(wrapped.cid) == "QmNxvA5bwvPGgMXbmtyhxA1cKFdvQXnsGnZLCGor3AzYxJ"
    result = run([str(BIN / "modelprep"), "cid", "--wrap", "--profile", "unixfs-v0-2015",
                  str(tmp_path / "wrap" / "hello.txt")], cwd=tmp_path)
    assert result.stdout.strip() == str(wrapped.cid)
