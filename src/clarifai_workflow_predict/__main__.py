"""``python -m clarifai_workflow_predict``: the same command as ``clarifai-workflow-predict``."""

import os
import signal
import sys

# Ctrl-C while the command loads ends it quietly, with 130; ``main`` then handles SIGINT itself.
signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))

from .cli import main  # noqa: E402  (after the handler: loading the command takes a while)

sys.exit(main())
