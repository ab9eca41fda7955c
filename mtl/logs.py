"""How mtl's processes log: one line format on stderr, set up by the command line, and read back by the
pipeline when it relays a stage command's output through the flow's logger (mtl/pipeline.py).

Only mtl's own loggers go to stderr at INFO (stage progress, the training loop's progress lines, ingest
warnings); other libraries stay at their defaults.
"""

from __future__ import annotations

import logging
import re
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
# A line in FORMAT, as a stage command prints it: its level and, without the timestamp, its text.
LOGGED_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) (?P<text>\S+: .*)$")


def log_to_stderr(level: int = logging.INFO) -> None:
    """Send the `mtl` loggers' records to stderr with a timestamp (a command's entry point calls it once)."""
    logger = logging.getLogger("mtl")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # Prefect's console handler on the root logger would print each line twice
