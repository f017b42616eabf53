"""``python -m clarifai_workflow_predict``: the same command as ``clarifai-workflow-predict``."""

import sys

from .cli import main

sys.exit(main())
