"""A small CMMS with a JSON API, served on 127.0.0.1 for the REST connector's tests.

``GET /api/v1/workorders`` returns maintenance work orders with their tasks nested inside, built
by a seeded generator: sparse documents (a work order without an asset, one without a purchase
reference), nested objects (``asset``, ``estimate``, ``purchase``), non-ASCII text, and many work
orders changed in the same second (bookmark ties). The endpoint takes:

- ``changed_since``: only work orders with ``changed_at >=`` it;
- ``sort=changed_at``: ordered by ``changed_at`` then ``wonum`` (without it, by ``wonum`` only);
- ``page_size`` and ``page_token`` (an opaque token from ``paging.next_token``), or ``offset`` and
  ``limit`` (``paging.total`` says how many match).

Credentials are a bearer token or basic auth, as the server is built. Tests script failures for
the next requests (``script``: HTTP status, headers, body, or ``"drop"`` to close the connection
without an answer) and read what was asked (``requests``: path, query, time).
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers import LoopbackHTTPServer

WORKORDERS_PATH = "/api/v1/workorders"
STATUSES = ["WAPPR", "APPR", "INPRG", "COMP", "CLOSE", "CAN"]
TASK_STATUSES = ["WAPPR", "APPR", "INPRG", "COMP", "CLOSE"]
SERVICES = ["SVC-REPAIR", "SVC-CALIB", "SVC-FIELD"]
DESCRIPTIONS = ["Pumpe überholen", "Replace bearing", "Calibrate flow meter", "Réparer la vanne", "Inspect weld"]
FIRST_CHANGE = datetime(2026, 3, 2, 6, 0, 0)


def stamp(moment: datetime) -> str:
    """A timestamp as the API writes it: ISO 8601 in UTC with a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_work_order(rng: random.Random, number: int, changed: datetime) -> dict[str, Any]:
    """One work order document with 1-4 tasks; some fields present only on some work orders."""
    site = "NORTH" if number % 3 else "SOUTH"
    reported = changed - timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 23))
    tasks = []
    for seq in range(1, rng.randint(1, 4) + 1):
        outside = rng.random() < 0.3
        task = {"task_id": seq * 10, "description": f"{rng.choice(DESCRIPTIONS)} ({seq})",
                "status": rng.choice(TASK_STATUSES), "outside": outside,
                "started_at": stamp(reported + timedelta(hours=seq))}
        if outside:
            task["service"] = {"item": rng.choice(SERVICES), "vendor": f"V{rng.randint(100, 120)}",
                               "qty": rng.choice([1, 2, 5])}
        if task["status"] in ("COMP", "CLOSE"):
            task["finished_at"] = stamp(reported + timedelta(hours=seq + 4))
        tasks.append(task)
    order: dict[str, Any] = {
        "wonum": f"WO-{number:05d}", "site": site, "status": rng.choice(STATUSES),
        "description": f"{rng.choice(DESCRIPTIONS)} {number}", "priority": rng.randint(1, 5),
        "reported_at": stamp(reported), "changed_at": stamp(changed),
        "estimate": {"labour": round(rng.uniform(50, 900), 2), "material": round(rng.uniform(0, 2500), 2),
                     "outside": round(rng.uniform(0, 1200), 2), "currency": "USD" if site == "NORTH" else "EUR"},
        "tasks": tasks,
    }
    # sparse documents: an asset on most, a purchase reference on some, nothing at all on others
    if number % 7:
        order["asset"] = {"id": f"ASSET-{number % 40:03d}", "site": site}
    else:
        order["asset"] = None
    if number % 4 == 0:
        order["purchase"] = {"po": f"45000{number:05d}", "line": number % 3 + 1}
    return order


def generate_work_orders(count: int, seed: int = 7, first_number: int = 1,
                         first_change: datetime = FIRST_CHANGE) -> list[dict[str, Any]]:
    """``count`` work orders; about five share each ``changed_at`` second (the bookmark ties)."""
    rng = random.Random(seed)
    orders = []
    for i in range(count):
        changed = first_change + timedelta(minutes=i // 5)
        orders.append(make_work_order(rng, first_number + i, changed))
    return orders


@dataclass
class Seen:
    """One request the server answered (or refused)."""

    path: str
    query: dict[str, str]
    at: float
    authorization: str | None = None
    status: int = 200


@dataclass
class Scripted:
    """A failure for the next matching request: an HTTP status with headers and body, or ``drop``."""

    status: int | str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


class _Handler(BaseHTTPRequestHandler):
    server: CmmsApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _send(self, status: int, document: Any = None, headers: dict[str, str] | None = None,
              body: str | None = None) -> None:
        data = (body if body is not None else json.dumps(document)).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if body is None else "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        seen = Seen(parts.path, query, time.monotonic(), self.headers.get("Authorization"))
        with self.server.lock:
            self.server.requests.append(seen)
            scripted = self.server.script.pop(0) if self.server.script and parts.path == WORKORDERS_PATH else None
        if not self.server.authorized(self.headers.get("Authorization")):
            seen.status = 401
            # a careless API echoes what it was sent; the client must not repeat it
            self._send(401, {"error": "unauthorized", "received": self.headers.get("Authorization")},
                       headers={"WWW-Authenticate": 'Bearer realm="cmms"' if self.server.token else
                                'Basic realm="cmms"'})
            return
        if scripted is not None:
            if scripted.status == "drop":
                seen.status = 0
                self.close_connection = True
                return
            seen.status = int(scripted.status)
            body = scripted.body.replace("{authorization}", self.headers.get("Authorization") or "")
            self._send(int(scripted.status), headers=scripted.headers, body=body)
            return
        if parts.path == "/api/v1":
            self._send(200, {"name": "cmms", "version": "1"})
            return
        if parts.path != WORKORDERS_PATH:
            seen.status = 404
            self._send(404, {"error": f"no resource {parts.path}"})
            return
        try:
            self._send(200, self.server.work_order_page(query))
        except ValueError as exc:
            seen.status = 400
            self._send(400, {"error": str(exc)})


class CmmsApi(LoopbackHTTPServer):
    """The CMMS JSON API on a free loopback port; a context manager that serves in a thread."""

    def __init__(self, work_orders: int = 230, *, token: str | None = None,
                 basic: tuple[str, str] | None = None, seed: int = 7):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token, self.basic = token, basic
        self.lock = threading.Lock()
        self.work_orders = generate_work_orders(work_orders, seed)
        self._rng = random.Random(seed + 1)
        self.requests: list[Seen] = []
        self.script: list[Scripted] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/v1"

    def authorized(self, header: str | None) -> bool:
        if self.token is not None:
            return header == f"Bearer {self.token}"
        if self.basic is not None:
            expected = base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            return header == f"Basic {expected}"
        return True

    def data_requests(self) -> list[Seen]:
        """The requests for work orders, in the order they came."""
        with self.lock:
            return [r for r in self.requests if r.path == WORKORDERS_PATH]

    # ---- the data ------------------------------------------------------------------------------

    def change(self, wonums: list[str], changed: datetime, **fields: Any) -> None:
        """Edit work orders (fields set at the top level) and stamp them changed at ``changed``."""
        with self.lock:
            for order in self.work_orders:
                if order["wonum"] in wonums:
                    order.update(fields, changed_at=stamp(changed))

    def add(self, count: int, changed: datetime) -> list[dict[str, Any]]:
        """New work orders changed at ``changed``; returns them."""
        with self.lock:
            first = max(int(o["wonum"][3:]) for o in self.work_orders) + 1
            added = [make_work_order(self._rng, first + i, changed) for i in range(count)]
            self.work_orders.extend(added)
        return added

    def work_order_page(self, query: dict[str, str]) -> dict[str, Any]:
        """One page of work orders for the query (changed_since, sort, token or offset paging)."""
        with self.lock:
            orders = list(self.work_orders)
        since = query.get("changed_since")
        if since:
            orders = [o for o in orders if o["changed_at"] >= since]
        sort = query.get("sort")
        if sort not in (None, "changed_at"):
            raise ValueError(f"cannot sort by {sort}")
        orders.sort(key=(lambda o: (o["changed_at"], o["wonum"])) if sort else (lambda o: o["wonum"]))
        if "offset" in query:
            offset, limit = int(query["offset"]), int(query.get("limit", "50"))
            return {"data": {"workorders": orders[offset:offset + limit]}, "paging": {"total": len(orders)}}
        size = int(query.get("page_size", "50"))
        start = int(base64.urlsafe_b64decode(query["page_token"]).decode().split(":")[1]) \
            if query.get("page_token") else 0
        end = start + size
        following = base64.urlsafe_b64encode(f"after:{end}".encode()).decode() if end < len(orders) else None
        return {"data": {"workorders": orders[start:end]}, "paging": {"next_token": following}}

