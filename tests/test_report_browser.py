"""The HTML report in a real browser (headless Chromium), offline.

Skipped when /usr/bin/chromium is absent. The screenshot stays in the test's tmp dir
(its path is printed) for a human to look at.
"""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from factories import make_results, write_results

from conformance.report import render_report

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
    ),
]


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[bytes]:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        # Networking off: any fetch the page tried would fail (and not reach anything).
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        *args,
    ]
    return subprocess.run(command, capture_output=True, timeout=90, check=True)


def _png_pixels(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of an 8-bit RGB(A) PNG."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos, idat = 8, b""
    width = height = 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("browser")
    results = write_results(base / "results.json", make_results(n_cases=40, failures=3))
    return render_report(results, timeout_s=60).html


def test_screenshot_is_not_blank(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _chromium([f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()], tmp_path / "p")
    print(f"screenshot: {shot}")
    png = shot.read_bytes()
    assert len(png) > 20_000
    width, height, raw = _png_pixels(png)
    assert (width, height) == (1280, 2400)
    # Many distinct byte values in the pixels: text, badges and pictures, not one colour.
    assert len(set(raw[: len(raw) // 2])) > 50


def test_rendered_dom_has_verdict_and_matrix(page: Path, tmp_path: Path) -> None:
    dom = _chromium(["--dump-dom", page.as_uri()], tmp_path / "p").stdout.decode("utf-8")
    assert "Not conformant: 3 failures, of which 1 critical" in dom
    # findings first: the summary's table comes before any picture
    assert dom.index('id="summary"') < dom.index("<img") < dom.index('id="findings"')
    matrix = re.search(r"<img\b[^>]*\balt=\"Verdicts by category\"[^>]*>", dom)
    assert matrix is not None
    assert 'src="data:image/png;base64,iVBORw0KGgo' in matrix.group()
    assert "<script" not in dom
