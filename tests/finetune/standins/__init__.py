"""Local stand-ins for the vendors' fine-tuning APIs (OpenAI, DashScope, Zhipu GLM, SenseNova).

Each is a real HTTP server on 127.0.0.1 that checks what the vendor requires: exact paths, the
`Authorization: Bearer KEY` header, the multipart fields of an upload and the lines of the file,
the JSON body of a create (known keys only, types), and answers with the vendor's JSON shapes and
error bodies. A job walks through the vendor's states one step per status read, emitting metric
events while it runs, so a test never waits on a clock. After success the fine-tuned model (after
a deployment where the vendor needs one) answers `POST …/chat/completions`.

Faults on demand (`server.fail(...)`): "upload_drop" (the first upload's connection is dropped
before anything is stored), "create_lost" (the job is created, then the answer is lost),
"quota" (create answers the vendor's quota error), "reject_file" (the upload is refused),
"job_fails" (the job ends failed with a message that echoes the key).
"""

from __future__ import annotations

from tests.finetune.standins.server import KEY, StandIn

__all__ = ["KEY", "StandIn"]
