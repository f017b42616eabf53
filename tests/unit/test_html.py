"""The HTML report: what it shows, and that nothing from the API can inject markup."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from clarifai_grpc.grpc.api import resources_pb2 as r
from clarifai_grpc.grpc.api import service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2

from clarifai_workflow_predict import models
from clarifai_workflow_predict._request import Plan
from clarifai_workflow_predict._response import prediction as assemble

EVIL_NAME = "<script>alert(1)</script>"
EVIL_TEXT = '"><img src=x onerror=alert(2)>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def ok(description: str = "Ok") -> status_pb2.Status:
    return status_pb2.Status(code=status_code_pb2.SUCCESS, description=description)


def build(results: list[r.WorkflowResult], status: Any = None) -> Any:
    response = service_pb2.PostWorkflowResultsResponse(status=status or ok(), results=results)
    plan = Plan("My<Flow>", [], [(0, len(results))], False)
    return assemble(plan, [(response, models.results(response.results))])


def detector_output(name: str = "det", model_id: str = "detector") -> r.Output:
    regions = [
        r.Region(
            id="reg-1",
            value=0.9,
            region_info=r.RegionInfo(
                bounding_box=r.BoundingBox(top_row=0.1, left_col=0.2, bottom_row=0.5, right_col=0.6)
            ),
            data=r.Data(
                concepts=[
                    r.Concept(id="a", name=EVIL_NAME, value=0.9),
                    r.Concept(id="b", name="low", value=0.1),
                ]
            ),
        ),
        r.Region(
            id="reg-2",
            value=0.7,
            region_info=r.RegionInfo(
                bounding_box=r.BoundingBox(top_row=0.6, left_col=0.1, bottom_row=0.9, right_col=0.3)
            ),
            data=r.Data(text=r.Text(raw=EVIL_TEXT)),
        ),
    ]
    return r.Output(
        id="o", status=ok(), model=r.Model(id=model_id, name=name), data=r.Data(regions=regions)
    )


def test_scripts_and_attributes_from_the_api_are_escaped() -> None:
    classifier = r.Output(
        status=ok(),
        model=r.Model(id='m"id', name=EVIL_NAME),
        data=r.Data(
            concepts=[r.Concept(id="c", name=EVIL_NAME, value=0.8)], text=r.Text(raw=EVIL_TEXT)
        ),
    )
    failed = r.WorkflowResult(
        id=EVIL_TEXT,
        status=status_pb2.Status(
            code=status_code_pb2.INPUT_DOWNLOAD_FAILED, description=EVIL_NAME, details=EVIL_TEXT
        ),
        input=r.Input(id=EVIL_TEXT, data=r.Data(image=r.Image(url="https://fail.invalid/<b>"))),
    )
    good = r.WorkflowResult(
        status=ok(),
        input=r.Input(id=EVIL_NAME, data=r.Data(image=r.Image(base64=PNG))),
        outputs=[classifier, detector_output(EVIL_NAME, EVIL_TEXT)],
    )
    page = build([good, failed]).to_html(title=EVIL_NAME)
    assert (
        "<script" not in page
        and "<img src=x" not in page
        and "onerror=alert" not in page.replace("onerror=alert(2)&gt;", "")
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    tags = parse(page)
    assert not [t for t, _ in tags.tags if t in ("script", "iframe", "object", "embed")]
    assert all(not any(k.startswith("on") for k in attrs) for _, attrs in tags.tags)
    for tag, attrs in tags.tags:
        if tag == "img":
            assert (attrs["src"] or "").startswith(("data:image/", "https://", "http://"))
    assert EVIL_NAME in "".join(tags.text) and EVIL_TEXT in "".join(tags.text)  # shown as text


def test_javascript_urls_are_never_loaded() -> None:
    result = r.WorkflowResult(
        status=ok(),
        input=r.Input(data=r.Data(image=r.Image(url="javascript:alert(1)"))),
        outputs=[],
    )
    page = build([result]).to_html()
    assert not [a for t, a in parse(page).tags if t == "img"]
    assert "no preview" in page


def test_what_the_page_shows() -> None:
    classifier = r.Output(
        status=ok(),
        model=r.Model(id="general-image-recognition", name="general"),
        data=r.Data(
            concepts=[
                r.Concept(name="low", value=0.2),
                r.Concept(name="high", value=0.9),
                r.Concept(name="mid", value=0.5),
            ]
        ),
    )
    embedder = r.Output(
        status=ok(),
        model=r.Model(id="embed", name="embed"),
        data=r.Data(embeddings=[r.Embedding(vector=[0.5] * 10, num_dimensions=10)]),
    )
    broken = r.Output(
        status=status_pb2.Status(
            code=status_code_pb2.MODEL_PREDICTION_FAILED, description="model crashed"
        ),
        model=r.Model(id="bad"),
    )
    image = r.WorkflowResult(
        status=ok(),
        input=r.Input(id="img", data=r.Data(image=r.Image(base64=PNG))),
        outputs=[classifier, embedder, detector_output(), broken],
    )
    url = r.WorkflowResult(
        status=ok(),
        input=r.Input(id="url", data=r.Data(image=r.Image(url="https://example.com/a.jpg"))),
        outputs=[classifier],
    )
    text = r.WorkflowResult(
        status=ok(),
        input=r.Input(id="txt", data=r.Data(text=r.Text(raw="a quiet station"))),
        outputs=[classifier],
    )
    page = build([image, url, text]).to_html()
    tags = parse(page)
    images = [a["src"] for t, a in tags.tags if t == "img"]
    assert (
        images[0].startswith("data:image/png;base64,") and images[1] == "https://example.com/a.jpg"
    )
    assert len(images) == 2 and "a quiet station" in page  # text inputs show their text
    names = [d.strip() for d in tags.text if d.strip() in ("low", "mid", "high")]
    assert names[:3] == ["high", "mid", "low"]  # bars sorted by score
    widths = [
        a["style"]
        for t, a in tags.tags
        if t == "span" and (a.get("style") or "").startswith("width")
    ]
    assert widths[:3] == ["width: 90.0%", "width: 50.0%", "width: 20.0%"]
    rects = [a for t, a in tags.tags if t == "rect"]
    assert [(a["x"], a["y"], a["width"], a["height"]) for a in rects] == [
        ("20.000%", "10.000%", "40.000%", "40.000%"),
        ("10.000%", "60.000%", "20.000%", "30.000%"),
    ]
    assert (
        "embedding, <code>10 dimensions [" in page
        and EVIL_TEXT.replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;") in page
    )
    assert "MODEL_PREDICTION_FAILED: model crashed" in page  # the failed output's badge
    layers = [
        a["stroke"] for t, a in tags.tags if t == "svg" and "overlay" in (a.get("class") or "")
    ]
    assert len(layers) == 1 and layers[0].startswith("#")  # one layer: the detector's
    colors = [
        a["style"] for t, a in tags.tags if t == "section" and "--model" in (a.get("style") or "")
    ]
    assert len(set(colors[:4])) == 4  # each model of the first input has its own color


def test_every_kind_is_shown_and_nothing_from_the_api_injects_markup() -> None:
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt "
    output = r.Output(
        status=ok(),
        model=r.Model(id="every", name=EVIL_NAME),
        data=r.Data(
            colors=[
                r.Color(raw_hex="#12ab34", w3c=r.W3C(name=EVIL_NAME), value=0.5),
                r.Color(raw_hex='red;background:url(x)"', value=0.1),  # not a color: left out
            ],
            clusters=[r.Cluster(id=EVIL_TEXT, count=3, score=0.5)],
            image=r.Image(base64=PNG),
            audio=r.Audio(base64=wav),
            video=r.Video(url="javascript:alert(3)"),
            heatmaps=[r.Image(url="https://example.com/heat.png")],
            time_segments=[
                r.TimeSegment(
                    id="s",
                    time_info=r.TimeInfo(begin_time=0, end_time=2),
                    data=r.Data(concepts=[r.Concept(name=EVIL_NAME, value=0.5)]),
                )
            ],
            tracks=[r.Track(id=EVIL_TEXT, time_info=r.TimeInfo(begin_time=1, end_time=4))],
            string_value=EVIL_TEXT,
            regions=[
                r.Region(
                    id="ent",
                    region_info=r.RegionInfo(
                        span=r.Span(char_start=2, char_end=9, raw_text="quiet s")
                    ),
                    data=r.Data(concepts=[r.Concept(name=EVIL_NAME, value=0.5)]),
                )
            ],
        ),
    )
    text = r.WorkflowResult(
        status=ok(),
        input=r.Input(id="txt", data=r.Data(text=r.Text(raw="a quiet station <b>"))),
        outputs=[output],
    )
    page = build([text]).to_html()
    tags = parse(page)
    assert "<script>" not in page and "onerror=" not in page.replace("onerror=alert", "")
    assert not any(t == "script" for t, _ in tags.tags)
    assert all("javascript:" not in (a.get("src") or "") for _, a in tags.tags)
    chips = [a for t, a in tags.tags if t == "span" and "color-chip" in (a.get("class") or "")]
    assert [c["data-hex"] for c in chips] == ["#12ab34"]
    sources = {t: a["src"] for t, a in tags.tags if t in ("audio", "img") and a.get("src")}
    assert sources["audio"].startswith("data:audio/wav;base64,")
    assert any(a.get("src") == "https://example.com/heat.png" for t, a in tags.tags if t == "img")
    marks = [a for t, a in tags.tags if t == "mark"]
    assert [(m["data-start"], m["data-end"]) for m in marks] == [("2", "9")]
    assert "a <mark" in page and "</mark>tation &lt;b&gt;" in page  # the text around, escaped
    lanes = [a for t, a in tags.tags if t == "div" and "lane" == a.get("class")]
    assert [lane["data-kind"] for lane in lanes] == ["segments", "tracks"] and lanes[0][
        "data-duration"
    ] == "4.0000"
