#!/usr/bin/env python3
"""A real OTLP/HTTP trace receiver for meshd's tests, built on the official opentelemetry-proto
classes (PyPI `opentelemetry-proto`): POST /v1/traces bodies are decoded as
ExportTraceServiceRequest protobuf, exactly as a collector would; a body that does not decode gets
400. Test controls:

  GET  /spans          every span received so far, as JSON
  POST /mode/ok        answer exports with 200 (the default)
  POST /mode/hang      hold exports without answering (a collector that stopped responding)
  POST /mode/fail      answer exports with 503

It prints `listening PORT` on stdout once it accepts connections.
"""

import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

LOCK = threading.Lock()
SPANS = []
STATE = {"mode": "ok", "exports": 0}
RELEASE = threading.Event()


def value_of(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def record(request):
    for resource_spans in request.resource_spans:
        resource = {kv.key: value_of(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                SPANS.append(
                    {
                        "service": resource.get("service.name"),
                        "scope": scope_spans.scope.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": span.kind,
                        "flags": span.flags,
                        "start": span.start_time_unix_nano,
                        "end": span.end_time_unix_nano,
                        "attributes": {kv.key: value_of(kv.value) for kv in span.attributes},
                        "status_code": span.status.code,
                        "status_message": span.status.message,
                    }
                )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", content_type="application/json"):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/spans":
            with LOCK:
                body = json.dumps({"spans": SPANS, "exports": STATE["exports"]}).encode()
            self.answer(200, body)
        else:
            self.answer(404)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        if self.path.startswith("/mode/"):
            STATE["mode"] = self.path[len("/mode/"):]
            if STATE["mode"] != "hang":
                RELEASE.set()
            else:
                RELEASE.clear()
            self.answer(200, b"{}")
            return
        if self.path != "/v1/traces":
            self.answer(404)
            return
        if self.headers.get("content-type") != "application/x-protobuf":
            self.answer(415)
            return
        mode = STATE["mode"]
        if mode == "hang":
            RELEASE.wait()
            self.close_connection = True
            return
        if mode == "fail":
            self.answer(503)
            return
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except Exception:  # a body that is not the message
            self.answer(400)
            return
        with LOCK:
            STATE["exports"] += 1
            record(request)
        self.answer(
            200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf"
        )


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    line = f"listening {server.server_address[1]}"
    # `--tls CERT KEY`: exports are also taken over TLS on a second port (the control
    # endpoints stay on the plain one).
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        secure = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        secure.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        secure.socket = context.wrap_socket(secure.socket, server_side=True)
        threading.Thread(target=secure.serve_forever, daemon=True).start()
        line += f" tls {secure.server_address[1]}"
    print(line, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
