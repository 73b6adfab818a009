"""moto server, one request at a time inside moto, optionally keeping its state in a file.

moto's backends are not thread-safe: concurrent TransactWriteItems calls answer HTML 500 pages
(seen with moto 5.2.5 and 20 concurrent clients). The local backend relies on DynamoDB's own
atomicity, so requests are served on threads but run through moto under one lock.

With CHAT_MOTO_STATE=<file> (what `make dev` sets, under .local/), moto's own recorder appends
every state-changing request to that file, and at start-up the file is replayed in-process before
the port opens: the emulator comes back with the data it had. Reads (Get*, List*, Describe*,
Query, Scan, BatchGet*) are not recorded, which keeps the file and the replay short.

usage: python moto_server.py HOST PORT
"""

import base64
import json
import os
import sys
import threading
from urllib.parse import urlsplit

STATE = os.environ.get("CHAT_MOTO_STATE")
if STATE:
    # read by moto's recorder when moto is imported
    os.environ["MOTO_RECORDER_FILEPATH"] = STATE

from werkzeug.serving import run_simple  # noqa: E402
from werkzeug.test import EnvironBuilder, run_wsgi_app  # noqa: E402
from moto.moto_api import recorder  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app  # noqa: E402

READ_ACTIONS = ("Get", "List", "Describe", "Query", "Scan", "BatchGet")


def record_writes_only() -> None:
    record = recorder._record_request

    def record_unless_read(request, body=None):
        action = request.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        if action.startswith(READ_ACTIONS) or request.method in ("GET", "HEAD") and not action:
            return
        record(request, body)

    recorder._record_request = record_unless_read


def replay(app, path: str) -> int:
    """Runs every recorded request through the app, in order; returns how many."""
    if not os.path.exists(path):
        return 0
    count = 0
    with open(path) as file:
        for line in file:
            if not line.strip():
                continue
            entry = json.loads(line)
            body = entry.get("body") or ""
            body = base64.b64decode(body) if entry.get("body_encoded") else body.encode("utf-8")
            url = urlsplit(entry["url"])
            headers = {k: v for k, v in entry["headers"].items() if k.lower() not in ("content-length", "transfer-encoding")}
            environ = EnvironBuilder(
                path=url.path or "/",
                query_string=url.query,
                method=entry["method"],
                headers=headers,
                data=body,
                base_url=f"{url.scheme}://{url.netloc}",
            ).get_environ()
            app_iter, _status, _headers = run_wsgi_app(app, environ)
            for _ in app_iter:
                pass
            count += 1
    return count


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    if STATE:
        replayed = replay(app, STATE)
        print(f"moto: replayed {replayed} requests from {STATE}", file=sys.stderr)
        record_writes_only()
        recorder.start_recording()
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            # Build the whole response under the lock: moto computes it lazily in places.
            return list(app(environ, start_response))

    run_simple(host, port, serialized, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
