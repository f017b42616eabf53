"""The demo's report in headless Chromium: no console errors, boxes where the coordinates say,
and a screenshot that is not blank."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from clarifai_workflow_predict.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium here (CI installs Debian's package)"
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
]

# Appended to a copy of the report only: measures each drawn box against its picture.
MEASURE = """
<script>
const out = [];
for (const figure of document.querySelectorAll("figure.picture")) {
  const img = figure.querySelector("img").getBoundingClientRect();
  for (const rect of figure.querySelectorAll("svg rect")) {
    const box = rect.getBoundingClientRect();
    out.push({region: rect.dataset.region, left: (box.left - img.left) / img.width,
              top: (box.top - img.top) / img.height, right: (box.right - img.left) / img.width,
              bottom: (box.bottom - img.top) / img.height, imgWidth: img.width});
  }
}
const pre = document.createElement("pre");
pre.id = "measured";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>
"""


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],  # type: ignore[list-item]
            capture_output=True,
            text=True,
            timeout=120,
        )


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def report(tmp_path_factory: Any) -> Path:
    path = tmp_path_factory.mktemp("report") / "demo-report.html"
    assert main(["demo", "--report", str(path), "--json"]) == 0
    return path


def test_page_loads_without_console_errors(report: Path, tmp_path: Path) -> None:
    run = chromium("--dump-dom", report.as_uri())
    assert run.returncode == 0 and "<main>" in run.stdout
    assert console_errors(run.stderr) == []
    broken = tmp_path / "broken.html"  # the check can fail: a page with an error is caught
    broken.write_text("<!doctype html><script>undefinedFunction()</script>")
    assert console_errors(chromium("--dump-dom", broken.as_uri()).stderr)


def test_boxes_sit_where_the_normalized_coordinates_say(report: Path, tmp_path: Path) -> None:
    html = report.read_text()
    expected = {
        region: tuple(float(v) / 100 for v in (x, y, w, h))
        for region, x, y, w, h in (
            (m["r"], m["x"], m["y"], m["w"], m["h"])
            for m in (
                dict(zip("xywhr", found, strict=True))
                for found in re.findall(
                    r'<rect x="([\d.]+)%" y="([\d.]+)%" width="([\d.]+)%" height="([\d.]+)%" data-region="([^"]+)"',
                    html,
                )
            )
        )
    }
    assert len(expected) >= 5  # the demo draws regions for three pictures
    measured_page = tmp_path / "measured.html"
    measured_page.write_text(html.replace("</body>", MEASURE + "</body>"))
    dom = chromium("--window-size=1280,900", "--dump-dom", measured_page.as_uri()).stdout
    measured = json.loads(re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)[1])  # type: ignore[index]
    assert len(measured) == len(expected)
    for box in measured:
        x, y, w, h = expected[box["region"]]
        assert box["imgWidth"] > 100
        for got, want in (
            (box["left"], x),
            (box["top"], y),
            (box["right"], x + w),
            (box["bottom"], y + h),
        ):
            assert abs(got - want) < 0.01, (box, (x, y, w, h))


def test_screenshot_is_not_blank_on_a_laptop_and_a_phone(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    for name, size in (("laptop", "1280,1800"), ("phone", "390,2400")):
        shot = tmp_path / f"{name}.png"
        chromium(f"--window-size={size}", f"--screenshot={shot}", report.as_uri())
        image = Image.open(shot).convert("RGB")
        colors = image.getcolors(maxcolors=1 << 20) or []
        assert len(colors) > 200, name  # pictures, bars and text, not an empty page
        background = max(colors)[0] / (image.width * image.height)
        assert background < 0.9, name
    if os.environ.get("REPORT_SCREENSHOT"):
        shutil.copy(tmp_path / "laptop.png", os.environ["REPORT_SCREENSHOT"])
