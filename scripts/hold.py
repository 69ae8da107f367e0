#!/usr/bin/env python3
"""Opens N TLS connections to HOST:PORT, fetches the page once on each (HTTP/1.1 keep-alive),
then holds them all idle until stdin closes. Prints "held N" once they are all up.

Used by scripts/scale.sh to measure a server's memory per idle connection. The client is
Python's ssl (OpenSSL) so the same load runs against any server.
"""
import asyncio
import ssl
import sys

HOST, PORT, N, CAFILE = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
BATCH = 200  # handshakes in flight at once
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


async def one(ctx, held, sem):
    async with sem:
        reader, writer = await asyncio.open_connection(
            HOST, PORT, ssl=ctx, server_hostname="localhost"
        )
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(l.split(b":")[1])
            for l in head.lower().split(b"\r\n")
            if l.startswith(b"content-length:")
        )
        await reader.readexactly(length)
    held.append(writer)


async def main():
    ctx = ssl.create_default_context(cafile=CAFILE)
    # The full handshake every time: no session reuse between our own connections.
    ctx.options |= ssl.OP_NO_TICKET
    held, sem = [], asyncio.Semaphore(BATCH)
    await asyncio.gather(*(one(ctx, held, sem) for _ in range(N)))
    print(f"held {len(held)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for w in held:
        w.close()


asyncio.run(main())
