"""bench/websocket.sh's client (PyPI `websockets`). Two modes:
  open URI N     opens N WebSockets (each echoes one message), prints `open N`, holds them until
                 stdin closes: the proxy's memory per open tunnel is read meanwhile.
  flood URI      reads what the server's /flood sends (128 MiB) and prints `MiB/s`.
"""

import asyncio
import sys
import time

from websockets.asyncio.client import connect

OPTIONS = dict(ping_interval=None, compression=None, max_size=None, open_timeout=120)


async def hold(uri, count):
    conns = []
    for _ in range(count):
        ws = await connect(uri, **OPTIONS)
        await ws.send("hi")
        assert await ws.recv() == "hi"
        conns.append(ws)
    print(f"open {count}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def flood(uri):
    async with connect(uri, **OPTIONS) as ws:
        started, total = time.monotonic(), 0
        while total < 128 * 1024 * 1024:
            total += len(await ws.recv())
        seconds = time.monotonic() - started
    print(f"{total / seconds / 1024 / 1024:.0f}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "open":
        asyncio.run(hold(sys.argv[2], int(sys.argv[3])))
    else:
        asyncio.run(flood(sys.argv[2]))
