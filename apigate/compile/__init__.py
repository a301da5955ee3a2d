"""Compiling deployments: the stored AWS documents of a stage in, the frozen model the data plane serves out.

One module per API kind, each with ``compile_stage(snapshot, stage, *, region, account_id, ...)``: ``rest``
(REST APIs), ``http`` (HTTP APIs), ``websocket`` (WebSocket APIs); beside them what compiling needs and the data
plane never does: parameter mapping expressions, gateway responses, resource policies, authorizers, schemas.
The control plane calls these at deployment (and TestInvokeMethod); the data plane imports none of them.
"""
