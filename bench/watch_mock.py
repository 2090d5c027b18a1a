#!/usr/bin/env python3
"""bench/watch_mock.py: synthetic hourly usage of KEYS keys over DAYS days, served as OpenAI's
usage endpoints (reference/APIS.md §G) for bench/watch-false-alarms.sh.

Each key has a made-up but realistic shape: a volume (log-normal: a few to a few hundred
requests in its busiest hour), a time zone (UTC-8 to UTC+9), a daily profile (office hours,
a round-the-clock service with a mild daily swing, or a nightly batch job plus a trickle), a
weekend level (20% to 100% of weekdays), one to three models with fixed shares, a per-day level
(log-normal, sd 0.15) and per-hour noise (log-normal, sd 0.25, then Poisson counts). Everything
is drawn from SEED, so a run is repeatable; usage is computed per (key, hour) on request.

ABUSED keys (drawn from all) get abuse: for HOURS hours from a random hour of days ABUSE_FROM..
DAYS-1, an attacker adds (FACTOR - 1) x the key's busiest-hour mean in requests, on the key's
main model, at any hour of the day. The factors are ABUSE_FACTORS (comma-separated), spread
evenly over the abused keys. The ground truth (key, start hour, hours, factor) is written to the
file named by the first argument; the port is printed on stdout.

GET /v1/organization/usage/{completions,embeddings}: start_time, end_time, bucket_width 1h
(limit default 24, max 168) or 1d, group_by[] of api_key_id, model, project_id, page cursor;
at most PAGE_BUCKETS buckets per page (a page of 1,000 keys' hours runs to megabytes).
Embeddings have no use here.
"""
import json, math, os, random, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

KEYS = int(os.environ.get("KEYS", "1000"))
DAYS = int(os.environ.get("DAYS", "30"))
SEED = int(os.environ.get("SEED", "7"))
ABUSED = int(os.environ.get("ABUSED", "90"))
HOURS = int(os.environ.get("ABUSE_HOURS", "4"))
FACTORS = [float(f) for f in os.environ.get("ABUSE_FACTORS", "2,5,20").split(",")]
ABUSE_FROM = int(os.environ.get("ABUSE_FROM", "16"))
PAGE_BUCKETS = int(os.environ.get("PAGE_BUCKETS", "24"))
START = int(os.environ["START"])  # Unix seconds of the first hour (a UTC midnight)
MODELS = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "gpt-4.1", "o3-mini"]


def poisson(rng, mean):
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, int(round(rng.gauss(mean, math.sqrt(mean)))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class Key:
    def __init__(self, index):
        rng = random.Random(SEED * 1_000_003 + index)
        self.id = "key_%04d" % index
        self.project = "proj_%02d" % (index % 40)
        self.peak = math.exp(rng.gauss(math.log(40), 1.2))
        self.tz = rng.randint(-8, 9)
        self.profile = rng.choices(["office", "service", "batch"], [0.5, 0.35, 0.15])[0]
        self.weekend = rng.uniform(0.2, 1.0)
        self.batch_hour = rng.randrange(24)
        self.tokens = math.exp(rng.gauss(math.log(800), 0.7))
        models = rng.sample(MODELS, rng.randint(1, 3))
        shares = [rng.random() + 0.2 for _ in models]
        self.models = [(m, s / sum(shares)) for m, s in zip(models, shares)]
        self.abuse = None

    def daily(self, local_hour):
        if self.profile == "office":
            return 1.0 if 8 <= local_hour <= 17 else 0.25 if 18 <= local_hour <= 22 else 0.03
        if self.profile == "service":
            return 0.7 + 0.3 * math.sin((local_hour - 8) / 24 * 2 * math.pi)
        return 1.0 if local_hour == self.batch_hour else 0.05

    def mean(self, hour):
        local = hour + self.tz
        weekday = (local // 24 + 4) % 7
        weekly = self.weekend if weekday in (0, 6) else 1.0
        return self.peak * self.daily(local % 24) * weekly

    def usage(self, hour):
        """[(model, requests, input_tokens, output_tokens)] of one hour."""
        day = random.Random("%d/%s/d%d" % (SEED, self.id, hour // 24))
        level = math.exp(day.gauss(0, 0.15))
        rng = random.Random("%d/%s/h%d" % (SEED, self.id, hour))
        mean = self.mean(hour) * level * math.exp(rng.gauss(0, 0.25))
        extra = 0
        if self.abuse and self.abuse[0] <= hour < self.abuse[0] + self.abuse[1]:
            extra = (self.abuse[2] - 1) * self.peak
        out = []
        for i, (model, share) in enumerate(self.models):
            requests = poisson(rng, mean * share) + (int(round(extra)) if i == 0 else 0)
            if requests:
                tokens = int(requests * self.tokens * math.exp(rng.gauss(0, 0.1)))
                out.append((model, requests, tokens * 4 // 5, tokens // 5))
        return out


KEYS_ = [Key(i) for i in range(KEYS)]
first_hour = START // 3600
chooser = random.Random(SEED)
for n, key in enumerate(chooser.sample(KEYS_, ABUSED)):
    start = first_hour + chooser.randrange(ABUSE_FROM * 24, DAYS * 24 - HOURS)
    key.abuse = (start, HOURS, FACTORS[n % len(FACTORS)])
with open(sys.argv[1], "w") as truth:
    json.dump({"first_hour": first_hour, "days": DAYS,
               "abused": {k.id: {"start": k.abuse[0], "hours": k.abuse[1], "factor": k.abuse[2]}
                          for k in KEYS_ if k.abuse}}, truth)


def bucket(kind, start, end, groups):
    results = []
    if kind == "completions":
        for key in KEYS_:
            for model, requests, inp, outp in key.usage(start // 3600):
                results.append({
                    "object": "organization.usage.completions.result",
                    "input_tokens": inp, "output_tokens": outp, "input_cached_tokens": 0,
                    "input_audio_tokens": 0, "output_audio_tokens": 0,
                    "num_model_requests": requests,
                    "project_id": key.project if "project_id" in groups else None,
                    "user_id": None,
                    "api_key_id": key.id if "api_key_id" in groups else None,
                    "model": model if "model" in groups else None,
                    "batch": None, "service_tier": None})
    return {"object": "bucket", "start_time": start, "end_time": end, "results": results}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_bench")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        if parts[:3] != ["v1", "organization", "usage"] or len(parts) != 4:
            return self.send(404, {"error": {"message": "Invalid URL", "type": "invalid_request_error"}})
        width = {"1h": 3600, "1d": 86400}.get(q.get("bucket_width", ["1d"])[0])
        if width is None or "start_time" not in q:
            return self.send(400, {"error": {"message": "bad request", "type": "invalid_request_error"}})
        start = int(q["start_time"][0])
        end = int(q.get("end_time", [start + 7 * width])[0])
        limit = int(q.get("limit", ["24" if width == 3600 else "7"])[0])
        if not 1 <= limit <= (168 if width == 3600 else 31):
            return self.send(400, {"error": {"message": "Invalid 'limit'.", "type": "invalid_request_error"}})
        first = int(q.get("page", ["page_0"])[0].split("_")[1])
        total = (end - start + width - 1) // width
        last = min(total, first + min(limit, PAGE_BUCKETS))
        groups = q.get("group_by[]", [])
        data = [bucket(parts[3], start + i * width, min(start + (i + 1) * width, end), groups)
                for i in range(first, last)]
        more = last < total
        self.send(200, {"object": "page", "data": data, "has_more": more,
                        "next_page": "page_%d" % last if more else None})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
