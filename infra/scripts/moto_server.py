"""moto server, one request at a time inside moto.

moto's backends are not thread-safe: concurrent TransactWriteItems calls answer HTML 500 pages
(seen with moto 5.2.5 and 20 concurrent clients). The local backend relies on DynamoDB's own
atomicity, so requests are served on threads but run through moto under one lock.

usage: python moto_server.py HOST PORT
"""

import os
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            # Build the whole response under the lock: moto computes it lazily in places.
            return list(app(environ, start_response))

    run_simple(host, port, serialized, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
