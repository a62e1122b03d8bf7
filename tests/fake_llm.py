"""A real HTTP server on loopback that speaks the OpenAI chat-completions protocol (streaming or not)
and returns scripted replies. ``server.script(messages)`` returns ``(status, reply)``; a reply of
``HANG`` sleeps past any client timeout; ``ENDLESS`` streams a word every ``drip_seconds``, forever
(until the client hangs up). ``server.redirect(url)`` answers every request with a redirect there;
a GET (what a client following a 302 sends) gets the scripted reply too, as any server could send."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "__hang__"
ENDLESS = "__endless__"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization"),
                                     "method": "POST"})
        self._answer(body)

    def do_GET(self):
        self.server.requests.append({"path": self.path, "body": None, "auth": self.headers.get("Authorization"),
                                     "method": "GET"})
        self._answer({"messages": [], "stream": True})

    def _answer(self, body):
        if self.server.redirect_to:
            self.send_response(self.server.redirect_status)
            self.send_header("Location", self.server.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": {"message": "not found"}})
        status, reply = self.server.script(body["messages"])
        if reply == HANG:
            time.sleep(self.server.hang_seconds)
            return
        if status != 200:
            return self._send(status, {"error": {"message": reply}})
        if reply == ENDLESS:
            return self._drip()
        if not body.get("stream"):
            return self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                                 "finish_reason": "stop"}]})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i, word in enumerate(reply.split(" ")):
            delta = {"choices": [{"index": 0, "delta": {"content": word if i == 0 else " " + word}}]}
            self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
            self.wfile.flush()
        if not self.server.cut_stream:  # a real server's last chunk says why the reply ended
            end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(end)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _drip(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            while True:
                delta = {"choices": [{"index": 0, "delta": {"content": " encore"}}]}
                self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
                self.wfile.flush()
                time.sleep(self.server.drip_seconds)
        except OSError:  # the client hung up: what amqa must do
            self.server.hung_up += 1

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeLLM:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.requests = []
        self.server.hang_seconds = 5
        self.server.drip_seconds = 0.5
        self.server.hung_up = 0
        self.server.script = lambda messages: (200, "")
        self.server.redirect_to = None
        self.server.redirect_status = 302
        self.server.cut_stream = False  # True: [DONE] without a finish reason, as an interrupted stream ends
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def requests(self) -> list[dict]:
        return self.server.requests

    def reply(self, text: str, status: int = 200) -> None:
        self.server.script = lambda messages: (status, text)

    def redirect(self, url: str, status: int = 302) -> None:
        self.server.redirect_to, self.server.redirect_status = url, status

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
