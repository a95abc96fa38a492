"""A real grpcio server for meshd's gRPC tests, without generated code (generic handlers, bytes
in and out).

  starfleet.Log/Append (unary)   answers b"logged:" + request; metadata `x-fail-times: N` makes
                                 the first N calls with the same `x-key` fail UNAVAILABLE,
                                 `x-hang: 1` never answers (the call ends only when it is
                                 cancelled or its deadline passes); the answer's trailing metadata
                                 carries `x-remaining-ms` (what the server saw of the deadline).
  starfleet.Log/Count (unary)    how many Append calls arrived with the `x-key` of the request.
  starfleet.Log/Chat (bidi)      echoes every message with b"echo:" as it arrives.
  starfleet.Log/Tail (server)    streams the request's bytes back int(request) times.
  grpc.health.v1.Health          the official health service (PyPI grpcio-health-checking),
                                 SERVING for "" and "starfleet.Log" at start; a line
                                 "serving NAME" or "not_serving NAME" on stdin sets NAME's status.

Usage: grpc_server.py [--tls CERT KEY]; prints "listening PORT" once serving on 127.0.0.1, and
answers "ok" to every stdin line once it took effect.
"""
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

calls = {}
lock = threading.Lock()


def identity(b):
    return b


def metadata(context):
    return {k: v for k, v in context.invocation_metadata()}


def append(request, context):
    meta = metadata(context)
    key = meta.get("x-key", "")
    with lock:
        calls[key] = calls.get(key, 0) + 1
        count = calls[key]
    remaining = context.time_remaining()
    if remaining is not None:
        context.set_trailing_metadata((("x-remaining-ms", str(int(remaining * 1000))),))
    if count <= int(meta.get("x-fail-times", "0")):
        context.abort(grpc.StatusCode.UNAVAILABLE, "not yet")
    if meta.get("x-hang"):
        # No answer: only a deadline or a cancellation ends this call (the bound below only
        # frees the thread of a test that died).
        ended = threading.Event()
        context.add_callback(ended.set)
        ended.wait(120)
        return b""
    return b"logged:" + request


def count(request, context):
    with lock:
        return str(calls.get(metadata(context).get("x-key", ""), 0)).encode()


def chat(requests, context):
    for message in requests:
        yield b"echo:" + message


def tail(request, context):
    for i in range(int(request)):
        yield b"entry %d" % i


def main():
    handlers = {
        "Append": grpc.unary_unary_rpc_method_handler(append, identity, identity),
        "Count": grpc.unary_unary_rpc_method_handler(count, identity, identity),
        "Chat": grpc.stream_stream_rpc_method_handler(chat, identity, identity),
        "Tail": grpc.unary_stream_rpc_method_handler(tail, identity, identity),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("starfleet.Log", handlers),))
    health_service = health.HealthServicer()
    for name in ("", "starfleet.Log"):
        health_service.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_service, server)
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        with open(sys.argv[2], "rb") as c, open(sys.argv[3], "rb") as k:
            credentials = grpc.ssl_server_credentials(((k.read(), c.read()),))
        port = server.add_secure_port("127.0.0.1:0", credentials)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print("listening %d" % port, flush=True)
    # Ends when the test closes stdin (or kills the process).
    statuses = {
        "serving": health_pb2.HealthCheckResponse.SERVING,
        "not_serving": health_pb2.HealthCheckResponse.NOT_SERVING,
    }
    for line in sys.stdin:
        word, _, name = line.strip().partition(" ")
        if word in statuses:
            health_service.set(name, statuses[word])
        print("ok", flush=True)
    server.stop(0)


if __name__ == "__main__":
    main()
