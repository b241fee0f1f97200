"""The Linux installer's parts, checked without building a bundle (CI builds and smoke-tests
the real one: scripts/package)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
LINUX = ROOT / "packaging" / "linux"
ICONS = ROOT / "resources" / "icons"
APP_ID = "io.github.hearth.Hearth"


def test_the_icon_comes_in_every_size() -> None:
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        data = (ICONS / f"hearth-{size}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (size, size)
    ico = (ICONS / "hearth.ico").read_bytes()
    assert struct.unpack("<HHH", ico[:6]) == (0, 1, 7)
    icns = (ICONS / "hearth.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate is not installed (Debian: desktop-file-utils)")
def test_the_desktop_entry_is_valid() -> None:
    result = subprocess.run(["desktop-file-validate", str(LINUX / f"{APP_ID}.desktop")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def test_missing_qt_libraries_are_named_with_their_packages(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ldd").write_text("#!/bin/sh\ncat <<'OUT'\n\tlibxcb-icccm.so.4 => not found\n"
                              "\tlibxcb-keysyms.so.1 => not found\n\tlibxcb-randr.so.0 => "
                              "not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\nOUT\n")
    (fake / "ldd").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    result = subprocess.run([str(LINUX / "check_qt_libs.sh"), "libqxcb.so"], env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1 libxcb-randr0" in result.stdout
    (fake / "ldd").write_text("#!/bin/sh\necho '\tlibc.so.6 => /lib/libc.so.6 (0x1)'\n")
    ok = subprocess.run([str(LINUX / "check_qt_libs.sh"), "libqxcb.so"], env=env,
                        capture_output=True, text=True, check=False)
    assert (ok.returncode, ok.stdout) == (0, "")


def _fake_tree(tmp_path: Path) -> Path:
    """An unpacked tarball whose bundle is a stand-in executable."""
    tree = tmp_path / "hearth-9.9-linux-x86_64"
    bundle = tree / "hearth"
    (bundle / "_internal" / "models").mkdir(parents=True)
    (bundle / "hearth").write_text("#!/bin/sh\necho Hearth 9.9\n")
    (bundle / "hearth").chmod(0o755)
    (bundle / "_internal" / "models" / "m.gguf").write_bytes(b"GGUF")
    for name in ("install.sh", "uninstall.sh", "check_qt_libs.sh", f"{APP_ID}.desktop"):
        shutil.copy(LINUX / name, tree / name)
    (tree / "VERSION").write_text("9.9\n")
    for size in (16, 256):
        folder = tree / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True)
        shutil.copy(ICONS / f"hearth-{size}.png", folder / f"{APP_ID}.png")
    return tree


def test_install_and_uninstall_into_a_prefix(tmp_path: Path) -> None:
    tree, prefix = _fake_tree(tmp_path), tmp_path / "prefix"
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    for _ in range(2):  # installing again replaces the earlier install
        subprocess.run([str(tree / "install.sh"), "--prefix", str(prefix)], env=env,
                       check=True, capture_output=True)
    libdir = prefix / "lib" / "hearth"
    assert os.readlink(prefix / "bin" / "hearth") == str(libdir / "hearth")
    entry = (prefix / "share" / "applications" / f"{APP_ID}.desktop").read_text()
    assert f"Exec={libdir}/hearth\n" in entry and f"TryExec={libdir}/hearth\n" in entry
    assert (prefix / "share/icons/hicolor/256x256/apps" / f"{APP_ID}.png").is_file()
    model = libdir / "_internal" / "models" / "m.gguf"
    assert not os.stat(model).st_mode & 0o222  # the installation is read-only
    subprocess.run([str(libdir / "uninstall.sh")], env=env, check=True, capture_output=True)
    assert not libdir.exists() and not (prefix / "bin" / "hearth").exists()
    assert not list((prefix / "share").rglob(f"{APP_ID}*"))
