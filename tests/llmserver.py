#!/usr/bin/python3
"""tests/llmserver.py -- a small language-model server for the tests.

It speaks both formats the plugins use (plugins/common/llm.h):
  Ollama          POST /api/chat, POST /api/embed
  OpenAI-style    POST /v1/chat/completions, POST /v1/embeddings
and binds a free port of the kernel's choice (port 0), writing the port
to --port-file (and to stdout) once it listens, so no port is guessed.

Answers: a chat answer is built from the JSON Schema the request carries
(Ollama "format", OpenAI response_format.json_schema.schema): an enum
property gets a value of its enum that occurs in the conversation (else
its first), a number its minimum or 0.9 within bounds, a string a short
text that quotes the conversation, an array one element, an object its
properties.  A test may script the next answers instead (POST /_control
{"answers": [{...}, ...]}).  Embeddings are deterministic: hashed word
counts of the text in 64 dimensions, L2-normalised, so texts sharing words
are near each other.

Modes (POST /_control {"mode": M, ...}; GET /_control shows the state):
  ok           answers as above
  slow         waits "delay" seconds (default 5) first, then answers
  malformed    a body that is not JSON
  truncated    the envelope cut in the middle of the model's text
  wrong_schema a well-formed answer whose JSON misses the schema
  failing      HTTP 500 with an error body
  refused      OpenAI: a refusal; Ollama: a text that is no JSON
  length       the model stopped at its token limit (finish/done_reason length)
"count": N applies the mode to the next N requests only, then ok again;
"path": P applies it (and counts) to requests to that path only.
Scripted answers are a list (any chat request takes the next) or an
object of lists by path ({"/api/chat": [...], "/v1/chat/completions": [...]}).
Requests are recorded (GET /_requests: method, path, headers, body).

Usage: llmserver.py --port-file FILE
"""
import argparse
import hashlib
import json
import math
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"mode": "ok", "delay": 5.0, "count": None, "path": None, "answers": []}
REQUESTS = []
LOCK = threading.Lock()


def words(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def embed(text):
    v = [0.0] * 64
    for w in words(text):
        h = int.from_bytes(hashlib.sha256(w.encode()).digest()[:4], "big")
        v[h % 64] += 1.0
    n = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / n for x in v]


def from_schema(schema, convo):
    t = schema.get("type")
    if isinstance(t, list):
        t = [x for x in t if x != "null"][0]
    if "enum" in schema:
        low = convo.lower()
        for value in schema["enum"]:
            if isinstance(value, str) and re.search(r"\b%s\b" % re.escape(value.lower()), low):
                return value
        return schema["enum"][0]
    if t == "object":
        return {k: from_schema(v, convo) for k, v in schema.get("properties", {}).items()}
    if t == "array":
        item = schema.get("items", {"type": "string"})
        return [from_schema(item, convo)]
    if t in ("number", "integer"):
        lo, hi = schema.get("minimum", 0), schema.get("maximum", 1 if t == "number" else 100)
        v = 0.9 if lo <= 0.9 <= hi else lo
        return int(v) if t == "integer" else v
    if t == "boolean":
        return True
    quote = " ".join(words(convo)[-12:])
    return "Answer: " + quote if quote else "Answer."


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("llmserver: " + (fmt % args) + "\n")

    def send(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_requests":
            with LOCK:
                self.send(200, json.dumps(REQUESTS))
        elif self.path == "/_control":
            with LOCK:
                self.send(200, json.dumps(STATE))
        else:
            self.send(404, '{"error": "not found"}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.path == "/_control":
            with LOCK:
                c = json.loads(raw or b"{}")
                if "answers" in c:
                    a = c["answers"]
                    STATE["answers"] = {k: list(v) for k, v in a.items()} if isinstance(a, dict) else list(a)
                if "mode" in c:
                    STATE["mode"] = c["mode"]
                    STATE["count"] = c.get("count")
                    STATE["path"] = c.get("path")
                    STATE["delay"] = float(c.get("delay", 5.0))
                if c.get("reset"):
                    REQUESTS.clear()
            self.send(200, json.dumps(STATE))
            return
        try:
            req = json.loads(raw)
        except ValueError:
            self.send(400, '{"error": "the request is not JSON"}')
            return
        with LOCK:
            REQUESTS.append({"path": self.path, "headers": dict(self.headers), "body": req})
            applies = STATE["path"] is None or STATE["path"] == self.path
            mode = STATE["mode"] if applies else "ok"
            if applies and STATE["count"] is not None:
                STATE["count"] -= 1
                if STATE["count"] <= 0:
                    STATE["mode"], STATE["count"], STATE["path"] = "ok", None, None
            delay = STATE["delay"]
            answers = STATE["answers"]
            if isinstance(answers, dict):
                answers = answers.get(self.path, [])
            scripted = answers.pop(0) if answers and "embed" not in self.path else None
        if mode == "slow":
            time.sleep(delay)
        if mode == "failing":
            self.send(500, '{"error": "the model crashed (test mode failing)"}')
            return
        if mode == "malformed":
            self.send(200, "<html>502 bad gateway from a proxy</html>", "text/html")
            return
        if self.path in ("/api/embed", "/v1/embeddings"):
            self.embeddings(req, mode)
        elif self.path in ("/api/chat", "/v1/chat/completions"):
            self.chat(req, mode, scripted)
        else:
            self.send(404, '{"error": "no such endpoint"}')

    def embeddings(self, req, mode):
        texts = req.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        vecs = [embed(t) for t in texts]
        if mode == "wrong_schema":
            vecs = [v[:10] if i % 2 else v for i, v in enumerate(vecs)]
        if self.path == "/api/embed":
            body = {"model": req.get("model"), "embeddings": vecs}
        else:
            body = {"object": "list", "model": req.get("model"),
                    "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vecs)]}
        text = json.dumps(body)
        if mode == "truncated":
            text = text[: len(text) // 2]
        self.send(200, text)

    def chat(self, req, mode, scripted):
        ollama = self.path == "/api/chat"
        if ollama:
            schema = req.get("format") or {}
        else:
            schema = ((req.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}
        convo = "\n".join(m.get("content", "") for m in req.get("messages", []))
        answer = scripted if scripted is not None else from_schema(schema, convo)
        content = json.dumps(answer)
        refusal = None
        finish = "stop"
        if mode == "wrong_schema":
            content = json.dumps({"unexpected": "shape", "score": "high"})
        elif mode == "refused":
            if ollama:
                content = "I am sorry, but I cannot help with that request."
            else:
                content, refusal = None, "I am sorry, but I cannot help with that request."
        elif mode == "length":
            content, finish = content[: len(content) // 2], "length"
        if ollama:
            body = {"model": req.get("model"), "created_at": "2026-12-03T10:00:00Z",
                    "message": {"role": "assistant", "content": content}, "done": True,
                    "done_reason": finish, "prompt_eval_count": len(words(convo)), "eval_count": 20}
        else:
            body = {"id": "chatcmpl-test", "object": "chat.completion", "model": req.get("model"),
                    "choices": [{"index": 0, "finish_reason": finish,
                                 "message": {"role": "assistant", "content": content, "refusal": refusal}}],
                    "usage": {"prompt_tokens": len(words(convo)), "completion_tokens": 20}}
        text = json.dumps(body)
        if mode == "truncated":
            text = text[: len(text) // 2]
        self.send(200, text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    port = srv.server_address[1]
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    print(port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
