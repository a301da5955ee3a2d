"""The Lambda proxy formats, shared by REST, HTTP and WebSocket APIs.

- ``v1``: payload format 1.0, the event (:func:`~apigate.dataplane.lambda_proxy.v1.event_v1`) and the
  response rules (:func:`~apigate.dataplane.lambda_proxy.v1.parse_v1`), with the one difference between API
  kinds passed as options (REST APIs are strict about the shape, HTTP APIs lenient);
- ``v2``: payload format 2.0 (HTTP APIs): the event's header, query and body encodings and the response rules;
- ``rest``: a REST API request as a 1.0 event, and its ``requestContext`` (which is also ``$context``);
- ``http``: an HTTP API request as a 2.0 or 1.0 event.

WebSocket events (``dataplane/websocket/events.py``) take ``request_time`` from here.
"""
