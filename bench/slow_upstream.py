"""A slow HTTP/1.1 upstream for bench/drain.sh: GET /slow answers after DELAY seconds (argv[2], default 1), anything else at once. Usage: slow_upstream.py PORT [DELAY]"""
import sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

DELAY = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path.startswith("/slow"):
            time.sleep(DELAY)
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 1024
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
