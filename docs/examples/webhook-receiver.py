#!/usr/bin/env python3
"""An example webhook receiver for the chat backend's domain events (docs/events.md).

Checks the x-chat-webhook-key header in constant time, drops redeliveries by detail.eventId,
and answers 200 quickly (EventBridge retries 429 and 5xx answers, and gives up on other 4xx).

    WEBHOOK_KEY=... python3 docs/examples/webhook-receiver.py 8080
    CHAT_PARAMETER_WebhookUrl=http://127.0.0.1:8080/ CHAT_PARAMETER_WebhookKey=... make dev
"""

import hmac
import json
import os
import sys
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = os.environ["WEBHOOK_KEY"].encode()
SEEN = OrderedDict()  # eventId -> None, the most recent 100,000


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        given = self.headers.get("x-chat-webhook-key", "").encode()
        if not hmac.compare_digest(given, KEY):
            self.send_response(403)  # not retried by EventBridge
            self.end_headers()
            return
        length = int(self.headers.get("content-length", "0"))
        if length > 256 * 1024:
            self.send_response(413)
            self.end_headers()
            return
        event = json.loads(self.rfile.read(length))
        event_id = event["detail"]["eventId"]
        if event_id not in SEEN:
            SEEN[event_id] = None
            if len(SEEN) > 100_000:
                SEEN.popitem(last=False)
            print(event["detail-type"], json.dumps(event["detail"]), flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()
