#!/usr/bin/env python3
"""bench/sweep_mock.py: a loopback stand-in for GitHub for bench/sweep.sh's scale mode.

Serves, after a fixed latency added to every request (--latency, seconds):
  GET  /orgs/ORG/repos?per_page=&page=   the organization's repositories, oldest first, 100 a
                                         page, with an absolute `link` header, a weak ETag of
                                         the page and 304 to a matching If-None-Match (not
                                         counted in x-ratelimit-used), and x-ratelimit-* headers
  GET  /ORG/NAME.git/info/refs           git smart HTTP (git http-backend, as a CGI)
  POST /ORG/NAME.git/git-upload-pack
  POST /_pushed/NAME                     the bench pushed to NAME: its pushed_at moves
  GET  /_stats                           requests so far: listing pages, 304s, git requests
Repositories are the bare repositories in --root (symbolic links are fine).
"""
import argparse, hashlib, json, os, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

args = argparse.ArgumentParser()
args.add_argument("--root", required=True)
args.add_argument("--org", default="bench")
args.add_argument("--port", type=int, required=True)
args.add_argument("--latency", type=float, default=0.05)
args = args.parse_args()

names = sorted(n[:-4] for n in os.listdir(args.root) if n.endswith(".git"))
pushed = {name: 1_700_000_000 + i for i, name in enumerate(names)}
lock = threading.Lock()
counts = {"pages": 0, "not_modified": 0, "git": 0, "used": 0}


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def base(self):
        return f"http://127.0.0.1:{args.port}"

    def do_GET(self):
        time.sleep(args.latency)
        url = urlsplit(self.path)
        if url.path == f"/orgs/{args.org}/repos":
            return self.listing(url)
        if url.path.endswith("/info/refs"):
            return self.git(url)
        if url.path == "/_stats":
            with lock:
                return self.reply(200, json.dumps(counts).encode())
        self.reply(404, b'{"message":"Not Found"}')

    def do_POST(self):
        time.sleep(args.latency)
        url = urlsplit(self.path)
        if url.path.startswith("/_pushed/"):
            with lock:
                pushed[url.path[len("/_pushed/"):]] = int(time.time())
            return self.reply(204, b"")
        if url.path.endswith("/git-upload-pack"):
            return self.git(url)
        self.reply(404, b'{"message":"Not Found"}')

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def listing(self, url):
        query = parse_qs(url.query)
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(names) // per_page))
        with lock:
            items = [{"full_name": f"{args.org}/{n}", "name": n,
                      "clone_url": f"{self.base()}/{args.org}/{n}.git",
                      "html_url": f"https://github.example/{args.org}/{n}",
                      "default_branch": "main", "fork": False, "archived": False,
                      "pushed_at": iso(pushed[n])}
                     for n in names[(page - 1) * per_page: page * per_page]]
        body = json.dumps(items).encode()
        etag = 'W/"%s"' % hashlib.sha256(body).hexdigest()
        links = []
        if page < last:
            keep = [p for p in url.query.split("&") if p and not p.startswith("page=")]
            links.append(f'<{self.base()}{url.path}?{"&".join(keep + [f"page={page + 1}"])}>; rel="next"')
        headers = [("etag", etag), ("content-type", "application/json")]
        if links:
            headers.append(("link", ", ".join(links)))
        not_modified = self.headers.get("if-none-match") == etag
        with lock:
            counts["pages"] += 1
            counts["not_modified"] += not_modified
            counts["used"] += not not_modified
            used = counts["used"]
        headers += [("x-ratelimit-limit", "1000000"), ("x-ratelimit-used", str(used)),
                    ("x-ratelimit-remaining", str(1_000_000 - used)),
                    ("x-ratelimit-reset", str(int(time.time()) + 3600)),
                    ("x-ratelimit-resource", "core")]
        if not_modified:
            return self.reply(304, b"", headers)
        self.reply(200, body, headers)

    def git(self, url):
        with lock:
            counts["git"] += 1
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": args.root,
               "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command,
               "PATH_INFO": url.path[len(f"/{args.org}"):], "QUERY_STRING": url.query,
               "CONTENT_TYPE": self.headers.get("content-type", ""),
               "CONTENT_LENGTH": str(len(body)),
               "HTTP_CONTENT_ENCODING": self.headers.get("content-encoding", ""),
               "GIT_PROTOCOL": self.headers.get("git-protocol", "")}
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.reply(status, payload, headers)


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
