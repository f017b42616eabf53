"""A built wheel, installed without the source tree, runs the emulator and the CLI end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_fixtures_and_runs_from_another_directory(tmp_path: Path) -> None:
    wheels, site, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=240,
    )
    (wheel,) = wheels.glob("clarifai_workflow_predict-*.whl")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        timeout=120,
    )
    fixtures = site / "clarifai_workflow_predict" / "testing" / "proto_fixtures"
    assert (fixtures / "General.textproto").is_file() and (fixtures / "README.md").is_file()
    assert (site / "clarifai_workflow_predict" / "py.typed").is_file()

    env = {**os.environ, "PYTHONPATH": str(site), "GRPC_VERBOSITY": "ERROR"}
    where = subprocess.run(
        [sys.executable, "-c", "import clarifai_workflow_predict as m; print(m.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(site))  # the installed copy, not the source tree

    serve = subprocess.Popen(
        [sys.executable, "-m", "clarifai_workflow_predict", "serve"],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        target = serve.stdout.readline().split()[-1]  # type: ignore[union-attr]
        predict = subprocess.run(
            [
                sys.executable,
                "-m",
                "clarifai_workflow_predict",
                "predict",
                "General",
                "https://samples.clarifai.com/metro-north.jpg",
                "--target",
                target,
                "--insecure",
                "--json",
            ],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert predict.returncode == 0, predict.stderr
        outputs = json.loads(predict.stdout)["results"][0]["outputs"]
        assert [o["model_id"] for o in outputs] == [
            "general-image-recognition",
            "general-image-embedding",
        ]
    finally:
        serve.send_signal(signal.SIGINT)
        serve.communicate(timeout=30)
    assert serve.returncode == 130  # Ctrl-C, as the README says
