"""Golden predictions: each bundled workflow through the real client, as checked-in JSON.

``make goldens`` (``python -m tests.integration.goldens``) rewrites them on purpose, after a
deliberate change to the emulator or the conversion; review the diff before committing it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clarifai_workflow_predict import Input, WorkflowClient
from clarifai_workflow_predict.testing import LocalWorkflowServer

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "goldens"
METRO = "https://samples.clarifai.com/metro-north.jpg"

CASES: dict[str, list[Any]] = {
    "General": [METRO, "https://samples.clarifai.com/dog2.jpeg", "https://fail.invalid/x.jpg"],
    "Food": [METRO],
    "Detection": [METRO],
    "OCR": [METRO],
    "Text": [Input.from_text("A train pulls into a busy station.", id="sentence-1")],
    "Segmentation": [METRO],
    "Color": [METRO],
    "ImageToImage": [METRO],
    "Clustering": [METRO],
    "NER": [Input.from_text("Ada Lovelace met Charles Babbage in London.", id="ner-1")],
    "TextToSpeech": [Input.from_text("The next train leaves at nine.", id="tts-1")],
    "LLM": [Input.from_text("Describe a busy station.", id="prompt-1")],
    "VideoTracking": [Input.from_url("https://samples.clarifai.com/beer.mp4", kind="video")],
    "Multimodal": [Input.from_parts(["What is in this image?", METRO], id="multimodal-1")],
    "Face-Sentiment": [Input.from_url("https://samples.clarifai.com/celebrity.jpeg")],
    "Language-Understanding": [Input.from_text("This is a test text for testing", id="lu-1")],
    "asr-sentiment": [
        Input.from_url("https://samples.clarifai.com/negative_sentence_1.wav", kind="audio")
    ],
    "LLM-Runner": [Input.from_text("Describe a busy station.", id="runner-1")],
}


def predictions() -> dict[str, dict[str, Any]]:
    """Each case's ``prediction.to_dict()``, request ids left out (they count calls)."""
    out = {}
    with (
        LocalWorkflowServer() as server,
        WorkflowClient(target=server.target, insecure=True) as client,
    ):
        for workflow_id, inputs in CASES.items():
            data = client.predict(workflow_id, inputs).to_dict()
            data.pop("request_ids")
            data["status"].pop("req_id")
            out[workflow_id] = data
    return out


def path_for(workflow_id: str) -> Path:
    return GOLDEN_DIR / f"{workflow_id}.json"


def main() -> None:
    GOLDEN_DIR.mkdir(exist_ok=True)
    for workflow_id, data in predictions().items():
        path_for(workflow_id).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print(f"wrote {path_for(workflow_id)}")


if __name__ == "__main__":
    main()
