"""Ingest's concurrent fetcher against a plain sequential fetch of the same pages, in one run.

A local server answers each of N article pages after a fixed delay (20 ms by default, like a
distant site). Each way of fetching runs in its own child process, so its peak memory is its own:

    .venv/bin/python bench/ingest.py [--pages 1000] [--delay-ms 20] [--concurrency 64] [--json]

The fetcher runs with its politeness limits lifted (rate, per-host concurrency) but with every
check on: SSRF guard, robots.txt, size cap, content type.

With --json, the last line is one JSON object: `sequential` and `concurrent`, each `seconds`, `pages_per_s`,
`peak_mib`, `complete`; `concurrent_vs_sequential` (throughput); `pages`, `delay_ms`, `concurrency`.
"""

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_network
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import json_flag, print_json

PAGE = (
    "<html><head><title>Story</title></head><body><article>"
    + ("<p>" + "A paragraph of a news story. " * 40 + "</p>") * 12
    + "</article></body></html>"
).encode()


def serve(delay: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real sites
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            time.sleep(delay)
            body = b"User-agent: *\nAllow: /\n" if self.path == "/robots.txt" else PAGE
            self.send_response(200)
            self.send_header("Content-Type", "text/plain" if self.path == "/robots.txt" else "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def sequential(urls: list[str]) -> int:
    import httpx

    with httpx.Client(timeout=30) as client:
        return sum(len(client.get(url).content) for url in urls)


def concurrent(urls: list[str], concurrency: int) -> int:
    from ingest.fetcher import Fetcher, Page
    from newsflow.settings import Settings

    settings = Settings(fetch_concurrency=concurrency, fetch_per_host_concurrency=concurrency)

    async def fetch_all() -> int:
        async with Fetcher(settings, requests_per_second=1_000_000, allow_networks=[ip_network("127.0.0.0/8")]) as fetcher:
            pages = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
        return sum(len(page.body) for page in pages if isinstance(page, Page))

    return asyncio.run(fetch_all())


def phase(name: str, base: str, pages: int, concurrency: int) -> None:
    """Child process: fetch the pages one way, print seconds, bytes and peak RSS as JSON."""
    urls = [f"{base}/news/{n}" for n in range(pages)]
    started = time.perf_counter()
    fetched = sequential(urls) if name == "sequential" else concurrent(urls, concurrency)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "bytes": fetched, "peak_mib": peak_kib / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--delay-ms", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    json_flag(parser)
    args = parser.parse_args()
    if args.phase:
        return phase(args.phase, args.base, args.pages, args.concurrency)

    server = serve(args.delay_ms / 1000)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    results = {}
    for name in ("sequential", "concurrent"):
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--phase",
                name,
                "--base",
                base,
                "--pages",
                str(args.pages),
                "--concurrency",
                str(args.concurrency),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results[name] = json.loads(child.stdout.strip().splitlines()[-1])
    server.shutdown()

    expected = args.pages * len(PAGE)
    print(f"{args.pages} pages of {len(PAGE) // 1024} KiB, server delay {args.delay_ms:g} ms, concurrency {args.concurrency}")
    print(f"{'':<12}{'seconds':>10}{'pages/s':>10}{'peak MiB':>10}  complete")
    figures: dict[str, Any] = {"pages": args.pages, "delay_ms": args.delay_ms, "concurrency": args.concurrency}
    for name, result in results.items():
        figures[name] = {
            "seconds": result["seconds"],
            "pages_per_s": args.pages / result["seconds"],
            "peak_mib": result["peak_mib"],
            "complete": result["bytes"] == expected,
        }
        print(
            f"{name:<12}{result['seconds']:>10.2f}{args.pages / result['seconds']:>10.0f}"
            f"{result['peak_mib']:>10.0f}  {result['bytes'] == expected}"
        )
    figures["concurrent_vs_sequential"] = results["sequential"]["seconds"] / results["concurrent"]["seconds"]
    print(f"concurrent / sequential throughput: {figures['concurrent_vs_sequential']:.1f}x")
    print_json(args, figures)


if __name__ == "__main__":
    main()
