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

# Lambda's limit on a synchronous invocation's response (and error) payload.
MAX_PAYLOAD_BYTES = 6_291_556
