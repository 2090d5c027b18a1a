#!/usr/bin/env python3
"""bench/revoke_mock.py: a loopback OpenAI organization for bench/revoke-scale.sh.

PROJECTS projects of KEYS user-owned keys each, one of them the leak (written, with the admin
key, to the files named on the command line). Every request is answered after LATENCY_MS.
Routes, as reference/APIS.md §B/§C document them: GET /v1/models (the leak: 200 with
`openai-organization` and, when KNOWN_PROJECT=1, `openai-project`; 401 `invalid_api_key` once
deleted), and with the admin key GET /v1/organization/projects, GET
/v1/organization/projects/{id}/api_keys (cursor pagination: limit 1..100, after, has_more,
first_id, last_id) and DELETE /v1/organization/projects/{id}/api_keys/{key}. GET /__stats
(not an API route) reports how many admin requests were answered. Prints the port on stdout.
"""
import json, os, random, string, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PROJECTS = int(os.environ.get("PROJECTS", "100"))
KEYS = int(os.environ.get("KEYS", "1000"))
LATENCY = int(os.environ.get("LATENCY_MS", "50")) / 1000
KNOWN_PROJECT = os.environ.get("KNOWN_PROJECT", "1") == "1"
MARKER = "T3Blbk" + "FJ"  # split so that no grep of this file finds a key shape
B64URL = string.ascii_letters + string.digits + "-_"
rng = random.SystemRandom()

def body(n):
    return "".join(rng.choice(B64URL) for _ in range(n - 1)) + rng.choice(string.ascii_letters)

leak = "sk-" + "proj-" + body(74) + MARKER + body(74)
admin = "sk-" + "admin-" + body(58) + MARKER + body(58)
leak_project = "proj_%03d" % (PROJECTS // 2)
leak_id = "key_%03d_%04d" % (PROJECTS // 2, KEYS // 2)
lock = threading.Lock()
stats = {"admin_requests": 0, "requests": 0, "max_in_flight": 0, "deleted": []}
in_flight = [0]

def redacted(project, index):
    if (project, index) == (leak_project, KEYS // 2):
        return "sk-proj-..." + leak[-4:]
    tail = leak[-4:]
    while tail == leak[-4:]:
        tail = "".join(rng.choice(string.ascii_letters) for _ in range(4))
    return "sk-proj-..." + tail

projects = ["proj_%03d" % p for p in range(PROJECTS)]
# Built once: the mock's own work per request must stay small beside LATENCY_MS.
def key_object(key_id, redaction):
    return {"object": "organization.project.api_key", "id": key_id, "name": "key",
            "redacted_value": redaction, "created_at": 1711471533, "last_used_at": None,
            "owner": {"type": "user", "user": {"id": "user_1", "name": "Bench",
                                               "email": "bench@example.com"}}}

keys = {p: [key_object("key_%s_%04d" % (p[5:], i), redacted(p, i)) for i in range(KEYS)]
        for p in projects}
positions = {p: {k["id"]: n for n, k in enumerate(items)} for p, items in keys.items()}
project_objects = [{"object": "organization.project", "id": p, "name": p, "created_at": 1711471533,
                    "archived_at": None, "status": "active"} for p in projects]

def page(items, query, index=None):
    limit = max(1, min(100, int(query.get("limit", ["20"])[0])))
    start = 0
    if "after" in query:
        after = query["after"][0]
        start = (index[after] if index else [i["id"] for i in items].index(after)) + 1
    data = [i for i in items[start:start + limit] if i["id"] not in stats["deleted"]]
    return {"object": "list", "data": data, "has_more": start + limit < len(items),
            "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}

class Handler(BaseHTTPRequestHandler):
    protocol_version = os.environ.get("MOCK_HTTP", "HTTP/1.1")

    def log_message(self, *args):
        pass

    def reply(self, status, value, headers=()):
        data = value if isinstance(value, bytes) else json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_" + "".join(rng.choice("0123456789abcdef") for _ in range(32)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        url = urlparse(self.path)
        if url.path == "/__stats":
            return self.reply(200, stats)
        with lock:
            in_flight[0] += 1
            stats["max_in_flight"] = max(stats["max_in_flight"], in_flight[0])
        time.sleep(LATENCY)
        with lock:
            in_flight[0] -= 1
        token = self.headers.get("authorization", "")[len("Bearer "):]
        with lock:
            stats["requests"] += 1
        if method == "GET" and url.path == "/v1/models":
            if token == leak and leak_id not in stats["deleted"]:
                headers = [("openai-organization", "bench-org")]
                if KNOWN_PROJECT:
                    headers.append(("openai-project", leak_project))
                return self.reply(200, {"object": "list", "data": []}, headers)
            return self.reply(401, {"error": {"message": "Incorrect API key provided.",
                                              "type": "invalid_request_error", "param": None,
                                              "code": "invalid_api_key"}})
        if token != admin:
            return self.reply(401, {"error": {"message": "Incorrect API key provided.",
                                              "type": "invalid_request_error", "param": None,
                                              "code": "invalid_api_key"}})
        with lock:
            stats["admin_requests"] += 1
        org = [("openai-organization", "bench-org")]
        parts = url.path.strip("/").split("/")
        query = parse_qs(url.query)
        if method == "GET" and parts == ["v1", "organization", "projects"]:
            return self.reply(200, page(project_objects, query), org)
        if (len(parts) >= 5 and parts[:3] == ["v1", "organization", "projects"]
                and parts[4] == "api_keys" and parts[3] in keys):
            project = parts[3]
            if method == "GET" and len(parts) == 5:
                cached = pages.get((project, query.get("after", [None])[0]))
                if cached is not None and query.get("limit") == ["100"] and not stats["deleted"]:
                    return self.reply(200, cached, org)
                return self.reply(200, page(keys[project], query, positions[project]), org)
            if method == "DELETE" and len(parts) == 6:
                with lock:
                    stats["deleted"].append(parts[5])
                return self.reply(200, {"object": "organization.project.api_key.deleted",
                                        "id": parts[5], "deleted": True}, org)
        return self.reply(404, {"error": {"message": "Invalid URL", "type": "invalid_request_error",
                                          "param": None, "code": None}})

    def do_GET(self):
        self.handle_any("GET")

    def do_DELETE(self):
        self.handle_any("DELETE")

# Every key page of 100, serialized once: a Python server is slower than the API it stands for,
# and the benchmark must time ferret, not the mock.
pages = {}
for p in projects:
    after = None
    while True:
        value = page(keys[p], {"limit": ["100"], **({"after": [after]} if after else {})}, positions[p])
        pages[(p, after)] = json.dumps(value).encode()
        if not value["has_more"]:
            break
        after = value["last_id"]

class Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops the SYNs of a client opening 16 connections at
    # once, and each dropped one waits a second to retry.
    request_queue_size = 128
    daemon_threads = True

server = Server(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write("OPENAI_API_KEY=%s\n" % leak)
with open(sys.argv[2], "w") as f:
    f.write(admin)
print(server.server_address[1], flush=True)
server.serve_forever()
