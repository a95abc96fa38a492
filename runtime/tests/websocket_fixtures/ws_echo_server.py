"""A WebSocket server for meshd's tests (PyPI `websockets`), on 127.0.0.1 and an ephemeral port.

Prints `listening PORT` once ready, then `handshake PATH` for every upgrade it accepts, so a
test can tell which upgrades reached it. Paths:
  /echo…, /capped…, /quiet…, anything else: echoes every message back.
  /flood…: sends FLOOD_BYTES (128 MiB) in 64 KiB binary messages as fast as the connection takes
           them, printing `stalled SENT` once when no byte has left for a second (the peer
           stopped reading and back-pressure reached the sender), then `sent all SENT`.
"""

import asyncio
import os
import sys
import time

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

FLOOD_BYTES = 128 * 1024 * 1024
# Incompressible, and compression is off on both sides: the bytes counted are the bytes sent.
CHUNK = os.urandom(64 * 1024)


def say(text):
    print(text, flush=True)


async def flood(ws):
    """Sends while the connection takes the bytes (`send` waits when the socket is full). A
    watcher prints `stalled SENT` once no byte has left for a second: SENT counts what the
    socket took, not what the transport still holds."""
    transport = ws.transport
    queued = 0

    def sent():
        return queued - transport.get_write_buffer_size()

    async def watch():
        last, since = -1, time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            now = sent()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since > 1.0:
                say(f"stalled {now}")
                return

    watcher = asyncio.create_task(watch())
    while queued < FLOOD_BYTES:
        await ws.send(CHUNK)
        queued += len(CHUNK)
    while transport.get_write_buffer_size() > 0:
        await asyncio.sleep(0.005)
    watcher.cancel()
    say(f"sent all {queued}")
    await ws.wait_closed()


async def handler(ws):
    path = ws.request.path
    say(f"handshake {path}")
    if path.startswith("/flood"):
        await flood(ws)
        return
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass  # a tunnel closed without a close frame (meshd's idle timeout): expected here


async def main():
    async with serve(
        handler, "127.0.0.1", 0, ping_interval=None, max_size=None, compression=None
    ) as server:
        port = server.sockets[0].getsockname()[1]
        say(f"listening {port}")
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
