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

# Appended to a copy of the report only: measures what is drawn against where it belongs.
MEASURE = """
<script>
const out = {boxes: [], masks: [], polygons: [], dots: [], generated: [], audio: [], marks: [],
             lanes: [], chips: []};
const rel = (r, base) => ({left: (r.left - base.left) / base.width, top: (r.top - base.top) / base.height,
  right: (r.right - base.left) / base.width, bottom: (r.bottom - base.top) / base.height});
for (const figure of document.querySelectorAll("figure.picture")) {
  const picture = figure.querySelector(":scope > img");
  if (!picture) continue;
  const img = picture.getBoundingClientRect();
  for (const rect of figure.querySelectorAll("svg rect"))
    out.boxes.push({region: rect.dataset.region, imgWidth: img.width, ...rel(rect.getBoundingClientRect(), img)});
  for (const mask of figure.querySelectorAll("img.mask"))
    out.masks.push({region: mask.dataset.region, loaded: mask.naturalWidth > 0,
                    ...rel(mask.getBoundingClientRect(), img)});
  for (const polygon of figure.querySelectorAll("polygon"))
    out.polygons.push({region: polygon.dataset.region, ...rel(polygon.getBoundingClientRect(), img)});
  for (const dot of figure.querySelectorAll("circle")) {
    const r = rel(dot.getBoundingClientRect(), img);
    out.dots.push({row: +dot.dataset.row, col: +dot.dataset.col,
                   y: (r.top + r.bottom) / 2, x: (r.left + r.right) / 2});
  }
}
for (const img of document.querySelectorAll("img.generated")) {
  const r = img.getBoundingClientRect();
  out.generated.push({loaded: img.naturalWidth > 0 && img.complete, width: r.width, height: r.height});
}
for (const audio of document.querySelectorAll("audio"))
  out.audio.push({src: audio.getAttribute("src").slice(0, 22), height: audio.getBoundingClientRect().height});
for (const mark of document.querySelectorAll("mark"))
  out.marks.push({text: mark.textContent, width: mark.getBoundingClientRect().width});
for (const lane of document.querySelectorAll(".lane")) {
  const base = lane.getBoundingClientRect();
  for (const span of lane.querySelectorAll("span")) {
    const r = span.getBoundingClientRect();
    out.lanes.push({begin: +span.dataset.begin, end: +span.dataset.end, duration: +lane.dataset.duration,
                    left: (r.left - base.left) / base.width, right: (r.right - base.left) / base.width});
  }
}
for (const chip of document.querySelectorAll(".color-chip"))
  out.chips.push({hex: chip.dataset.hex, color: getComputedStyle(chip).backgroundColor,
                  width: chip.getBoundingClientRect().width});
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


@pytest.fixture(scope="module")
def measured(report: Path, tmp_path_factory: Any) -> dict[str, Any]:
    page = tmp_path_factory.mktemp("measured") / "measured.html"
    page.write_text(report.read_text().replace("</body>", MEASURE + "</body>"))
    dom = chromium("--window-size=1280,900", "--dump-dom", page.as_uri()).stdout
    return json.loads(re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)[1])  # type: ignore[index]


def drawn_boxes(html: str) -> dict[str, tuple[float, float, float, float]]:
    """Each region's box as the page says it: (left, top, width, height), fractions."""
    return {
        region: (float(x) / 100, float(y) / 100, float(w) / 100, float(h) / 100)
        for x, y, w, h, region in re.findall(
            r'<rect x="([\d.]+)%" y="([\d.]+)%" width="([\d.]+)%" height="([\d.]+)%" data-region="([^"]+)"',
            html,
        )
    }


def near(
    measured_box: dict[str, float], box: tuple[float, float, float, float], tolerance: float
) -> None:
    x, y, w, h = box
    for got, want in (
        (measured_box["left"], x),
        (measured_box["top"], y),
        (measured_box["right"], x + w),
        (measured_box["bottom"], y + h),
    ):
        assert abs(got - want) < tolerance, (measured_box, box)


def test_boxes_sit_where_the_normalized_coordinates_say(report: Path, measured: dict) -> None:
    expected = drawn_boxes(report.read_text())
    assert len(expected) >= 8  # detections, OCR lines, segments and people
    assert len(measured["boxes"]) == len(expected)
    for box in measured["boxes"]:
        assert box["imgWidth"] > 100
        near(box, expected[box["region"]], 0.01)


def test_masks_cover_their_boxes_and_polygons_fit_them(report: Path, measured: dict) -> None:
    boxes = drawn_boxes(report.read_text())
    assert measured["masks"] and len(measured["masks"]) == len(measured["polygons"])
    for mask in measured["masks"]:
        assert mask["loaded"]  # the PNG decoded
        near(mask, boxes[mask["region"]], 0.01)
    for polygon in measured["polygons"]:  # an ellipse inscribed in its box
        near(polygon, boxes[polygon["region"]], 0.02)


def test_keypoints_sit_at_their_coordinates(measured: dict) -> None:
    assert len(measured["dots"]) >= 6  # a person's keypoints at least
    for dot in measured["dots"]:
        assert abs(dot["x"] - dot["col"]) < 0.01 and abs(dot["y"] - dot["row"]) < 0.01, dot


def test_generated_media_and_colors_show(measured: dict) -> None:
    assert measured["generated"] and all(
        g["loaded"] and g["width"] > 20 and g["height"] > 10 for g in measured["generated"]
    )
    assert measured["audio"] and all(
        a["src"].startswith("data:audio/wav;base64") and a["height"] > 10 for a in measured["audio"]
    )
    assert len(measured["chips"]) >= 1
    for chip in measured["chips"]:
        red, green, blue = (int(chip["hex"][i : i + 2], 16) for i in (1, 3, 5))
        assert chip["color"] == f"rgb({red}, {green}, {blue})" and chip["width"] > 20


def test_entities_are_marked_in_the_text(report: Path, measured: dict) -> None:
    from clarifai_workflow_predict.cli.demo import DEMO_CALLS

    (sentence,) = [s[1] for w, _, samples in DEMO_CALLS if w == "NER" for s in samples]
    words = {w.strip(".,") for w in sentence.split() if w[0].isupper()}
    assert {m["text"] for m in measured["marks"]} == words
    assert all(m["width"] > 5 for m in measured["marks"])


def test_segments_and_tracks_sit_on_the_time_line(measured: dict) -> None:
    assert len(measured["lanes"]) >= 3
    for span in measured["lanes"]:
        assert abs(span["left"] - span["begin"] / span["duration"]) < 0.01, span
        assert abs(span["right"] - span["end"] / span["duration"]) < 0.01, span


def test_screenshot_is_not_blank_on_a_laptop_and_a_phone(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    for name, size in (("laptop", "1280,2400"), ("phone", "390,2400")):
        shot = tmp_path / f"{name}.png"
        chromium(f"--window-size={size}", f"--screenshot={shot}", report.as_uri())
        image = Image.open(shot).convert("RGB")
        colors = image.getcolors(maxcolors=1 << 20) or []
        assert len(colors) > 200, name  # pictures, bars and text, not an empty page
        background = max(colors)[0] / (image.width * image.height)
        assert background < 0.9, name
    if os.environ.get("REPORT_SCREENSHOT"):
        shutil.copy(tmp_path / "laptop.png", os.environ["REPORT_SCREENSHOT"])


UNLOADED = """
<script>
const figure = document.querySelector("figure.picture");
const note = figure.querySelector(".unloaded");
const img = figure.querySelector(":scope > img");
const pre = document.createElement("pre");
pre.id = "measured";
pre.textContent = JSON.stringify({figure: figure.getBoundingClientRect().height,
  loaded: img.naturalWidth > 0, note: note.textContent, noteHeight: note.getBoundingClientRect().height,
  boxes: figure.querySelectorAll("svg rect").length});
document.body.appendChild(pre);
</script>
"""


def test_a_linked_picture_that_cannot_load_keeps_its_place_and_says_so(tmp_path: Path) -> None:
    from clarifai_workflow_predict.testing import LocalWorkflowServer

    url = "http://127.0.0.1:9/expired.jpg"  # nothing listens on the discard port
    page = tmp_path / "report.html"
    with LocalWorkflowServer() as server:
        where = ["--target", server.target, "--insecure"]
        assert main(["predict", "Detection", url, "--html", str(page), *where]) == 0
    page.write_text(page.read_text().replace("</body>", UNLOADED + "</body>"))
    dom = chromium("--window-size=1280,900", "--dump-dom", page.as_uri()).stdout
    got = json.loads(re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)[1])  # type: ignore[index]
    assert not got["loaded"] and got["boxes"] > 0
    assert got["figure"] >= 96 and got["noteHeight"] >= 96  # not a 16 px strip
    assert got["note"] == f"picture not loaded: {url}"
