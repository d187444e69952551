"""Stand-ins record each call as one JSON line in $STANDIN_LOG, for the test to compare with the
libraries' documented usage."""

import json
import os


def record(call: str, **kwargs) -> None:
    path = os.environ.get("STANDIN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"call": call, **kwargs}, default=str) + "\n")
