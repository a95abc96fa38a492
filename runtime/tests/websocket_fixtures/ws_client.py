"""A WebSocket client for meshd's tests (PyPI `websockets`).

usage: ws_client.py MODE URI [--connect HOST:PORT] [--header NAME:VALUE]…
  --connect opens the TCP connection there (with a 64 KiB receive buffer) while the URI keeps
  its host (a sidecar's outbound listener, where `Host` names the service).
Modes (each prints one result line the test waits for):
  echo      sends text and binary messages, checks each echo: `echo ok N`
  refused   expects the upgrade to be refused: `refused STATUS` (or `connected`)
  hold      connects, prints `open`, waits for a line on stdin, closes: `closed`
  idle      connects, sends nothing, waits for the connection to end: `open`, then `ended`
  slow      connects, prints `open`, reads nothing until a line arrives on stdin, then reads
            everything: `read all BYTES`
"""

import asyncio
import socket
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


def say(text):
    print(text, flush=True)


def options():
    mode, uri = sys.argv[1], sys.argv[2]
    headers, sock = [], None
    rest = sys.argv[3:]
    while rest:
        flag, value = rest[0], rest[1]
        rest = rest[2:]
        if flag == "--connect":
            host, port = value.rsplit(":", 1)
            sock = socket.socket()
            # A small receive buffer, so that a client that stops reading stops taking bytes
            # soon (loopback autotuning would otherwise let the kernel hold tens of MiB).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            sock.connect((host, int(port)))
        elif flag == "--header":
            name, text = value.split(":", 1)
            headers.append((name, text.strip()))
    return mode, uri, headers, sock


async def stdin_line():
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def main():
    mode, uri, headers, sock = options()
    kwargs = dict(
        additional_headers=headers,
        ping_interval=None,
        open_timeout=120,
        close_timeout=10,
        max_size=None,
        compression=None,
    )
    if sock is not None:
        kwargs["sock"] = sock
    try:
        ws = await connect(uri, **kwargs)
    except InvalidStatus as refused:
        say(f"refused {refused.response.status_code}")
        return
    if mode == "refused":
        say("connected")
        await ws.close()
        return
    if mode == "echo":
        count = 0
        for i in range(20):
            await ws.send(f"message {i}")
            assert await ws.recv() == f"message {i}"
            count += 1
        payload = bytes(range(256)) * 1024
        await ws.send(payload)
        assert await ws.recv() == payload
        count += 1
        await ws.close()
        say(f"echo ok {count}")
    elif mode == "hold":
        say("open")
        await stdin_line()
        await ws.close()
        say("closed")
    elif mode == "idle":
        say("open")
        try:
            await ws.recv()
            say("message")
        except ConnectionClosed:
            say("ended")
    elif mode == "slow":
        say("open")
        await stdin_line()
        total = 0
        try:
            async for message in ws:
                total += len(message)
                if total >= 128 * 1024 * 1024:
                    break
        except ConnectionClosed:
            pass
        say(f"read all {total}")
        await ws.close()


if __name__ == "__main__":
    asyncio.run(main())
