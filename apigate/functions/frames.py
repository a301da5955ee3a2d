"""The wire format between the gateway and a worker process: fixed struct headers, raw payload bytes.

Shared by both ends, so it imports nothing but ``struct``: the worker loads it before user code.
"""

from __future__ import annotations

import struct

# gateway -> worker: payload length, request id length, invoked ARN length, trace header length, deadline
# (epoch ms); then the request id, the ARN, the trace header (X-Amzn-Trace-Id, may be empty) and the payload.
REQUEST = struct.Struct("!IHHHQ")

# worker -> gateway: body length, kind, max RSS (KiB), handler duration (ms); then the body.
REPLY = struct.Struct("!IBId")

# Reply kinds.
READY = 0  # the handler module imported; body is empty
INIT_ERROR = 1  # the import failed; body is the Lambda error document
RESULT = 2  # the handler returned; body is the marshalled response
ERROR = 3  # the handler raised; body is the Lambda error document
OUT_OF_MEMORY = 4  # an allocation failed past the worker's memory backstop; body is empty
SKIPPED = 5  # a batched request the worker did not run (an earlier one of its batch printed); body is empty

# Or'ed into a RESULT or ERROR kind of a batched request: the call wrote nothing to stdout/stderr, and the
# worker went on with the next request of its batch. Output read after such a reply is a later call's.
QUIET = 0x40

# A batch: several requests in one write, run one after another by the (Python) worker, each reply written as
# its call ends. The worker treats the requests that arrive in one read as one batch: a batch must reach an
# idle worker in one write that the pipe takes whole (it starts empty; see BATCH_BYTES).
BATCH_BYTES = 60 * 1024

# Lambda's limit on a synchronous invocation's response (and error) payload.
MAX_PAYLOAD_BYTES = 6_291_556
