"""A real grpcio client for meshd's gRPC tests. Reads one JSON call from argv[1]:

  {"target": "127.0.0.1:8080", "authority": "riker" (optional), "method": "Append" (a method of
   starfleet.Log, or a whole path "/pkg.Service/Method"),
   "kind": "unary" | "bidi" | "server", "messages": ["..."], "metadata": [["k", "v"]],
   "timeout": 2.5 (optional, seconds)}

and prints one JSON line: {"code": "OK", "details": "...", "responses": [...],
"trailing": {...}}.
"""
import json
import sys

import grpc


def main():
    call = json.loads(sys.argv[1])
    options = []
    if call.get("authority"):
        options.append(("grpc.default_authority", call["authority"]))
    channel = grpc.insecure_channel(call["target"], options=options)
    method = call["method"]
    path = method if method.startswith("/") else "/starfleet.Log/" + method
    metadata = [tuple(pair) for pair in call.get("metadata", [])]
    timeout = call.get("timeout")
    messages = [m.encode() for m in call.get("messages", [])]
    out = {"code": "OK", "details": "", "responses": [], "trailing": {}}
    try:
        kind = call.get("kind", "unary")
        if kind == "unary":
            stub = channel.unary_unary(path)
            response, rpc = stub.with_call(messages[0], metadata=metadata, timeout=timeout)
            out["responses"] = [response.decode()]
            out["trailing"] = dict(rpc.trailing_metadata() or ())
        elif kind == "server":
            stub = channel.unary_stream(path)
            for response in stub(messages[0], metadata=metadata, timeout=timeout):
                out["responses"].append(response.decode())
        else:
            # Bidirectional, in lock step: each message is sent only after the echo of the one
            # before came back, which only works if the proxy streams both ways as it goes.
            import queue

            outgoing = queue.Queue()
            stub = channel.stream_stream(path)
            responses = stub(iter(outgoing.get, None), metadata=metadata, timeout=timeout)
            for message in messages:
                outgoing.put(message)
                out["responses"].append(next(responses).decode())
            outgoing.put(None)
            for rest in responses:
                out["responses"].append(rest.decode())
    except grpc.RpcError as error:
        out["code"] = error.code().name
        out["details"] = error.details() or ""
        out["trailing"] = dict(error.trailing_metadata() or ())
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
