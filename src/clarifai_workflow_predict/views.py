"""Predictions for people: a text table, one JSON document with each vector on one line, and a
self-contained HTML page. The command line shows predictions with these; so can any front end.

::

    from clarifai_workflow_predict import views

    print(views.table(prediction))
    print(views.json_text(prediction.to_dict()))
    Path("report.html").write_text(views.html([first, second], "Today's predictions"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from ._present import Predicted

__all__ = ["html", "json_text", "table"]


def table(prediction: Predicted, labels: Sequence[str] | None = None) -> str:
    """The prediction as a text table: a block per input, headed by its label (``labels[i]``
    names ``inputs[i]``; by default its input id), then a row per prediction of each model:
    concepts and scores, regions with their labelled box corners, text, embeddings, and every
    other kind of output."""
    from ._render import table as render

    return render(prediction, labels)


def json_text(data: Any) -> str:
    """``data`` (``prediction.to_dict()``, or a list of them) as one indented JSON document,
    each list of numbers (a vector) on one line."""
    from ._present import json_text as render

    return render(data)


def html(predictions: Predicted | Sequence[Predicted], title: str | None = None) -> str:
    """One self-contained HTML page for a prediction or a sequence of them: each input's
    picture with what the models located drawn over it, each model's outputs beside it, and
    failures as error badges. No scripts or network assets; every API string is escaped."""
    from ._html import render

    many = predictions if isinstance(predictions, Sequence) else [predictions]
    return render(many, title)
