"""Load benchmark: three portal pages served by gunicorn on 127.0.0.1, against a bare endpoint of the
same stack, at maximum throughput and at a fixed rate of 100 requests/s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/load_bench .venv/bin/python bench/load.py

Drops and re-creates the given database (its name must end in 'bench'), migrates it, collects the
static files (production serves them through whitenoise's manifest storage) and seeds a world:
a province with two cities, 20 departments, 10,000 tasks dispatched through the services (fan-outs
from the province's emergency department to the 19 city departments; part of the reader
department's accepted, declined or started), 2,000 incidents (40 reported through the services,
the rest bulk-created as copies of them with their affected regions, for seeding speed), and a
resident dataset of 100,000 records loaded through the real upload path, opened to the reader's
department by a request and its approval (ID numbers and phones masked, a row filter).

Then starts gunicorn (`config.wsgi`'s application under bench/load_settings.py: production's
settings, DEBUG off, whitenoise, the Content-Security-Policy, `__Host-` cookies, persistent database
connections, Celery publishing to an in-memory transport; only the URL configuration adds the bare
endpoint) with production's deploy/gunicorn.conf.py (sync workers, 2 x cores + 1) on a free port of
127.0.0.1, logs its readers in through the login form (a session cookie each; the client sends
`X-Forwarded-Proto: https` as nginx does), measures each page in-process (its queries, and the CPU
time Django spends on it), and drives four endpoints, one after another:

- `bare`: `/bench/bare/`, a constant behind the same middleware and login (session and user);
- `task inbox`: `/tasks/` (the reader department's ~520 tasks, 50 per page, state tiles);
- `incident list`: `/incidents/` (about 1,000 of the 2,000 incidents in scope, 25 per page);
- `granted records`: `/access/datasets/<pk>/records/` (the first 50 of the dataset's records as the
  grant shows them; every page is a `data.read` ledger event, committed).

Each endpoint is measured in two phases: (a) maximum throughput, a closed loop of `--clients`
concurrent clients for `--seconds` (requests/s; the bare endpoint is measured again for half as long
right after each page, and the page's ratio divides by the mean of the bare runs either side of it,
so a change in the machine's load during the run weighs on both); (b) an open
loop at a fixed arrival rate (`--rate`, 100/s) for `--seconds`: requests are started on schedule
whether or not earlier ones have answered, from a pool of threads, and latency is measured from
the scheduled start, so a server that falls behind shows it in p50/p99 instead of slowing the
client down; a request not sent within 2 s of its schedule is dropped and counted as an error
(the server is saturated). The client is the standard library's `http.client` in threads (no
dependency, little CPU; keep-alive where the worker offers it); it runs on the same machine, and
its share of a core is printed with the figures. `--reuse` keeps the database of an earlier run.

`--workers`/`--threads` override gunicorn's processes and threads (threads > 1: the gthread worker);
`--only` measures some endpoints; `--profile NAME` prints a cProfile of 200 in-process requests of
one endpoint, and `--queries` prints each page's SQL; either instead of the load.
"""

import argparse
import base64
import http.client
import http.cookies
import os
import queue
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR_DIR = ROOT / "var" / "bench-load"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/load_bench")
# Production's settings refuse to start without these: throwaway values for this run only.
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.load_settings"
os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
os.environ["LEDGER_SIGNING_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
os.environ["DATAPOOL_ENCRYPTION_KEYS"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
os.environ["PLATFORM_VAR_DIR"] = str(VAR_DIR)
os.environ["CELERY_BROKER_URL"] = "memory://"  # publishes succeed, nothing is delivered (no worker)
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")

import django  # noqa: E402

from bench.common import ensure_database, percentile, resident_dataset  # noqa: E402

HOST = "127.0.0.1"
CITY_DEPARTMENTS = 19  # plus the province's emergency department: 20
TASKS = 10_000
INCIDENTS = 2_000
INCIDENTS_THROUGH_SERVICES = 40
RECORDS = 100_000
READERS = 4
GIVE_UP = 2.0  # seconds: phase (b) drops a request not sent by then (counted as an error)
TIMEOUT = 10.0  # seconds: a request without an answer by then is an error


# --- seeding ----------------------------------------------------------------------------------


def seed() -> dict:
    from django.utils import timezone

    from apps.access import services as access
    from apps.core.permissions import Role
    from apps.incidents import services as incidents
    from apps.incidents.models import Incident
    from apps.organizations.choices import DepartmentType, RegionLevel
    from apps.tasking import services as tasking
    from tests import factories as f

    started = time.perf_counter()
    province = f.region(name="江苏省", code="320000", level=RegionLevel.PROVINCE)
    nanjing = f.region(parent=province, name="南京市", code="320100", level=RegionLevel.CITY)
    suzhou = f.region(parent=province, name="苏州市", code="320500", level=RegionLevel.CITY)
    issuer = f.department(region=province, type=DepartmentType.EMERGENCY, name="江苏省应急管理厅")
    issuer_head = f.member(issuer, Role.HEAD)
    types = [
        DepartmentType.EMERGENCY,
        DepartmentType.FIRE,
        DepartmentType.PUBLIC_SECURITY,
        DepartmentType.HEALTH,
        DepartmentType.TRANSPORT,
        DepartmentType.ENVIRONMENT,
        DepartmentType.TRAFFIC_POLICE,
        DepartmentType.COMMUNITY,
        DepartmentType.MEDIA,
        DepartmentType.TELECOM,
    ]
    departments = []
    for i in range(CITY_DEPARTMENTS):
        city = nanjing if i % 2 == 0 else suzhou
        kind = types[(i // 2) % len(types)]
        departments.append(f.department(region=city, type=kind, name=f"{city.name}{kind.label}{i:02d}"))
    reader_department = next(d for d in departments if d.region_id == nanjing.pk and d.type == DepartmentType.FIRE)
    owner = next(d for d in departments if d.region_id == nanjing.pk and d.type == DepartmentType.PUBLIC_SECURITY)
    reporters = {
        city.pk: next(d for d in departments if d.region_id == city.pk and d.type == DepartmentType.EMERGENCY)
        for city in (nanjing, suzhou)
    }
    reporter_heads = {pk: f.member(d, Role.HEAD) for pk, d in reporters.items()}
    readers = [
        f.member(reader_department, Role.STAFF, username=f"reader{i}", display_name=f"消防员{i}")
        for i in range(READERS)
    ]
    reader_head = f.member(reader_department, Role.HEAD)
    print(f"seed: 3 regions, {len(departments) + 1} departments in {time.perf_counter() - started:.1f} s", flush=True)

    # Incidents: some through the service (ledger, clocks, timeline), the rest copied in bulk.
    started = time.perf_counter()
    subtypes = [
        ("natural_disaster", "flood"),
        ("accident", "traffic"),
        ("accident", "fire"),
        ("public_health", "food_safety"),
    ]
    now = timezone.now()
    reported = []
    for i in range(INCIDENTS_THROUGH_SERVICES):
        city = nanjing if i % 2 == 0 else suzhou
        category, subtype = subtypes[i % len(subtypes)]
        reported.append(
            incidents.incident_report(
                actor=reporter_heads[city.pk],
                department=reporters[city.pk],
                title=f"{city.name}突发事件{i:04d}",
                category=category,
                subtype=subtype,
                severity=1 + i % 4,
                place=f"{city.name}某街道{i}号",
                first_seen_at=now - timedelta(hours=i),
                regions=[city],
            )
        )
    statuses = ["reported", "verified", "responding", "recovering", "closed"]
    copies = []
    for i in range(INCIDENTS - INCIDENTS_THROUGH_SERVICES):
        model = reported[i % len(reported)]
        copies.append(
            Incident(
                title=f"{model.title}（{i:05d}）",
                category=model.category,
                subtype=model.subtype,
                severity=1 + i % 4,
                status=statuses[i % len(statuses)],
                region_id=model.region_id,
                place=model.place,
                first_seen_at=now - timedelta(hours=INCIDENTS_THROUGH_SERVICES + i),
                reported_at=now - timedelta(hours=INCIDENTS_THROUGH_SERVICES + i),
                reporting_department_id=model.reporting_department_id,
                created_by_id=model.created_by_id,
            )
        )
    copies = Incident.objects.bulk_create(copies, batch_size=1000)
    Through = Incident.regions.through
    Through.objects.bulk_create([Through(incident_id=c.pk, region_id=c.region_id) for c in copies], batch_size=2000)
    print(
        f"seed: {INCIDENTS} incidents ({INCIDENTS_THROUGH_SERVICES} through the service) in"
        f" {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    # Tasks: fan-outs from the province to the 19 city departments, each batch tied to an incident.
    started = time.perf_counter()
    issued = []
    batch = 0
    while len(issued) < TASKS:
        targets = departments[: min(len(departments), TASKS - len(issued))]
        issued += tasking.task_dispatch(
            actor=issuer_head,
            issuer_department=issuer,
            departments=targets,
            title=f"第{batch + 1:03d}批：巡查排险、转移安置、物资保障",
            deadline=timezone.now() + timedelta(hours=1 + batch % 48),
            instructions="按预案执行并每两小时报告进展。",
            incident=reported[batch % 2] if batch % 3 == 0 else None,
        )
        batch += 1
    mine = [t for t in issued if t.department_id == reader_department.pk]
    for n, task in enumerate(mine[: len(mine) // 3]):
        if n % 10 == 0:
            tasking.task_decline(actor=reader_head, task=task, reason="非本部门职责，请改派")
        else:
            task = tasking.task_accept(actor=reader_head, task=task)
            if n % 4 == 0:
                tasking.task_start(actor=reader_head, task=task)
    print(
        f"seed: {len(issued)} tasks in {batch} fan-outs, {len(mine)} in the reader's inbox"
        f" ({len(mine) // 3} answered) in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    # The dataset through the real upload path, and a grant to the reader's department.
    started = time.perf_counter()
    dataset, job, owner_head = resident_dataset(owner, RECORDS)
    request = access.request_create(
        actor=reader_head,
        department=reader_department,
        dataset=dataset,
        fields=["name", "age", "gender", "category", "address"],
        masked_fields=["id_number", "phone"],
        row_filter=[{"field": "age", "op": "gte", "value": 18}],
        purpose="火灾隐患排查与人员转移核查",
        legal_basis="《突发事件应对法》",
        duration_hours=72,
    )
    access.request_decide(actor=owner_head, request=request, decision="approve")
    print(
        f"seed: {job.rows_accepted:,} records loaded and granted in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"readers": readers, "dataset": dataset}


def seeded() -> dict:
    """The world an earlier run left in the database (--reuse)."""
    from django.contrib.auth import get_user_model

    from apps.datapool.models import Dataset

    readers = list(get_user_model().objects.filter(username__in=[f"reader{i}" for i in range(READERS)]))
    if len(readers) != READERS:
        raise SystemExit("--reuse: the database holds no seeded world; run once without --reuse")
    return {"readers": readers, "dataset": Dataset.objects.get(title="常住人口基础信息")}


def collect_static() -> bool:
    """collectstatic into var/bench-load/ unless its manifest is newer than every static source
    file (the manifest storage post-processes and compresses everything: a minute on a busy machine)."""
    from django.conf import settings
    from django.contrib.staticfiles.finders import get_finders
    from django.core.management import call_command

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.exists():
        built = manifest.stat().st_mtime
        newest = max(
            (os.stat(storage.path(path)).st_mtime for finder in get_finders() for path, storage in finder.list([])),
            default=0,
        )
        if newest < built:
            return False
    call_command("collectstatic", interactive=False, verbosity=0)
    return True


# --- gunicorn ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"


def start_gunicorn(port: int, workers: int | None, threads: int, log: Path) -> subprocess.Popen:
    """gunicorn with production's configuration file (deploy/gunicorn.conf.py: sync workers, 2 x cores
    + 1 of them, access log to stdout), bound to `port`; `workers`/`threads` override it."""
    command = [str(Path(sys.prefix) / "bin" / "gunicorn"), "config.wsgi:application", "--chdir", str(ROOT)]
    if GUNICORN_CONF.exists():
        command += ["--config", str(GUNICORN_CONF)]
    command += ["--bind", f"{HOST}:{port}", "--error-logfile", str(log), "--log-level", "warning"]
    if workers:
        command += ["--workers", str(workers)]
    if threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    process = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}; see {log}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/login/", headers={"X-Forwarded-Proto": "https"})
            if conn.getresponse().status == 200:
                conn.close()
                return process
        except OSError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"gunicorn did not answer within 60 s; see {log}")


def gunicorn_workers(process: subprocess.Popen) -> int:
    """How many worker processes the arbiter started (its children)."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    return len(children.read_text().split()) if children.exists() else 0


def stop_gunicorn(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the client -------------------------------------------------------------------------------


def login(port: int, username: str) -> str:
    """Log in through the form like a browser behind the proxy; returns the session cookie's value."""
    from django.conf import settings

    from tests import factories

    base = {"Host": f"{HOST}:{port}", "X-Forwarded-Proto": "https"}
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request("GET", "/login/", headers=base)
    response = conn.getresponse()
    page = response.read().decode()
    cookies = http.cookies.SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    csrf_cookie = cookies[settings.CSRF_COOKIE_NAME].value
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": username, "password": factories.PASSWORD, "csrfmiddlewaretoken": token})
    conn.request(
        "POST",
        "/login/",
        body=body,
        headers=base
        | {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"{settings.CSRF_COOKIE_NAME}={csrf_cookie}",
            "Origin": f"https://{HOST}:{port}",
            "Referer": f"https://{HOST}:{port}/login/",
        },
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    cookies = http.cookies.SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    if response.status != 302 or settings.SESSION_COOKIE_NAME not in cookies:
        raise SystemExit(f"login of {username} answered {response.status} without a session cookie")
    return cookies[settings.SESSION_COOKIE_NAME].value


STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Client:
    """One keep-alive connection with one session. A request on a connection the server has
    meanwhile closed (gunicorn's keep-alive timeout) is sent again once on a new connection, as a
    browser does; any other failure, and any status but 200, is an error."""

    def __init__(self, port: int, session: str):
        from django.conf import settings

        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
        self.headers = {
            "Host": f"{HOST}:{port}",
            "X-Forwarded-Proto": "https",
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}",
            "Accept-Encoding": "identity",
        }

    def get(self, path: str) -> str | None:
        """None on success, else what went wrong."""
        for attempt in (1, 2):
            reused = self.conn.sock is not None
            try:
                self.conn.request("GET", path, headers=self.headers)
                response = self.conn.getresponse()
                response.read()
                if response.will_close:
                    self.conn.close()
                return None if response.status == 200 else f"HTTP {response.status}"
            except STALE as exc:
                self.conn.close()
                if attempt == 2 or not reused:
                    return type(exc).__name__
            except OSError as exc:
                self.conn.close()
                return type(exc).__name__
        return "unreachable"  # pragma: no cover

    def close(self):
        self.conn.close()


class Result:
    def __init__(self):
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.lock = threading.Lock()

    def add(self, latency: float, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.latencies.append(latency)
            else:
                self.errors[error] = self.errors.get(error, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def closed_loop(port: int, sessions: list[str], path: str, clients: int, seconds: float) -> tuple[Result, float]:
    """`clients` clients each sending the next request when the last one answered."""
    result = Result()
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def run(i: int) -> None:
        client = Client(port, sessions[i % len(sessions)])
        start_gate.wait()
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at[0]:
                break
            error = client.get(path)
            result.add(time.perf_counter() - t0, error)
        client.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start_gate.wait()
    for t in threads:
        t.join()
    return result, time.perf_counter() - began


def open_loop(
    port: int, sessions: list[str], path: str, rate: float, seconds: float, pool: int
) -> tuple[Result, float]:
    """Requests started on a fixed schedule (`rate` per second) by a pool of threads; a request's
    latency runs from its scheduled start, so waiting in the client for a free connection counts.
    A request that could not be sent within GIVE_UP seconds of its schedule is dropped and counted
    as an error (the server is saturated; without a bound the backlog would spill into the next
    measurement)."""
    result = Result()
    due: queue.Queue = queue.Queue()

    def run(i: int) -> None:
        client = Client(port, sessions[i % len(sessions)])
        while True:
            scheduled = due.get()
            if scheduled is None:
                break
            if time.perf_counter() - scheduled > GIVE_UP:
                result.add(0, f"dropped (not sent within {GIVE_UP:.0f} s)")
                continue
            error = client.get(path)
            result.add(time.perf_counter() - scheduled, error)
        client.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(pool)]
    for t in threads:
        t.start()
    total = int(rate * seconds)
    began = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = began + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        due.put(scheduled)
    for _ in threads:
        due.put(None)
    for t in threads:
        t.join()
    return result, time.perf_counter() - began


def drain(port: int, session: str, bare: str, limit: float = 60) -> None:
    """Wait until the server has worked off what a saturated phase (b) left queued in it (requests
    whose client gave up are still served): three bare requests in a row answered within 100 ms."""
    client, quick, deadline = Client(port, session), 0, time.monotonic() + limit
    while quick < 3 and time.monotonic() < deadline:
        started = time.perf_counter()
        error = client.get(bare)
        quick = quick + 1 if error is None and time.perf_counter() - started < 0.1 else 0
        time.sleep(0.1)
    client.close()


# --- in-process checks ------------------------------------------------------------------------


def in_process_client(user):
    from django.conf import settings
    from django.test import Client as DjangoClient

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = DjangoClient(headers={"X-Forwarded-Proto": "https"})
    client.force_login(user)
    return client


def in_process(user, endpoints: dict[str, str], show: bool, repeats: int = 10) -> dict[str, tuple[int, float]]:
    """Each page in-process, without the server: its number of queries (its SQL with `show`), and
    the CPU time of this process per request (Django's side of the work, PostgreSQL's excluded),
    which moves less with the machine's load than elapsed time does."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = in_process_client(user)
    counts = {}
    for name, path in endpoints.items():
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{name}: {path} answered {response.status_code} in-process")
        queries = len(captured)  # before the next request: Django clears the query log at each one
        if show:
            print(f"--- {name} ({path}): {queries} queries")
            for q in captured.captured_queries:
                print(f"  [{q['time']}] {q['sql'][:400]}")
        rounds = []
        for _ in range(5):  # the median of 5 rounds: other processes' bursts inflate CPU time too
            started = time.process_time()
            for _ in range(repeats):
                client.get(path)
            rounds.append((time.process_time() - started) / repeats * 1000)
        counts[name] = (queries, statistics.median(rounds))
    return counts


def profile(user, path: str) -> None:
    import cProfile
    import pstats

    client = in_process_client(user)
    client.get(path)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(200):
        client.get(path)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each phase per endpoint")
    parser.add_argument("--warmup", type=float, default=2, help="closed-loop warm-up per endpoint (seconds)")
    parser.add_argument("--rate", type=float, default=100, help="fixed arrival rate of phase (b), requests/s")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of phase (a)")
    parser.add_argument("--pool", type=int, default=64, help="client threads of phase (b)")
    parser.add_argument(
        "--workers", type=int, default=None, help="gunicorn workers (default: deploy/gunicorn.conf.py's)"
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (> 1: the gthread worker)")
    parser.add_argument("--only", default="", help="comma-separated endpoint names (bare is always measured)")
    parser.add_argument("--profile", default="", help="cProfile 200 in-process requests of this endpoint and exit")
    parser.add_argument("--queries", action="store_true", help="print each page's SQL and exit")
    parser.add_argument("--reuse", action="store_true", help="keep the database an earlier run seeded")
    args = parser.parse_args()

    django.setup()
    if not args.reuse:
        ensure_database()
    from django.core.management import call_command

    from config.celery import app

    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://"
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    collected = collect_static()
    print(
        f"setup: migrate{' and collectstatic' if collected else ''} in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    world = seeded() if args.reuse else seed()

    endpoints = {
        "bare": "/bench/bare/",
        "task inbox": "/tasks/",
        "incident list": "/incidents/",
        "granted records": f"/access/datasets/{world['dataset'].pk}/records/",
    }
    if args.only:
        chosen = {"bare", *(s.strip() for s in args.only.split(","))}
        endpoints = {k: v for k, v in endpoints.items() if k in chosen}
    reader = world["readers"][0]
    if args.profile:
        profile(reader, endpoints[args.profile])
        return
    measured = in_process(reader, endpoints, args.queries)
    for name, (count, cpu) in measured.items():
        print(f"in-process: {name:<16} {count:>2} queries, {cpu:5.1f} ms CPU per request", flush=True)
    if args.queries:
        return

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    connection.close()  # the bench process holds no connection while gunicorn serves
    log = VAR_DIR / "gunicorn.log"
    port = free_port()
    server = start_gunicorn(port, args.workers, args.threads, log)
    workers = args.workers or gunicorn_workers(server)
    kind = f"gthread, {workers} workers x {args.threads} threads" if args.threads > 1 else f"{workers} sync workers"
    if GUNICORN_CONF.exists():
        kind += f", {GUNICORN_CONF.relative_to(ROOT)}"
    print(
        f"machine: {os.cpu_count()} cores, PostgreSQL {pg}, Python {sys.version.split()[0]};"
        f" gunicorn {kind} on {HOST}:{port}; load average {os.getloadavg()[0]:.1f} before",
        flush=True,
    )
    rows = []
    try:
        sessions = [login(port, u.get_username()) for u in world["readers"]]
        bare_rps: list[float] = []
        for name, path in endpoints.items():
            closed_loop(port, sessions, path, args.clients, args.warmup)
            cpu0 = time.process_time()
            top, top_elapsed = closed_loop(port, sessions, path, args.clients, args.seconds)
            cpu_a = time.process_time() - cpu0
            if name == "bare":
                bare_near = len(top.latencies) / top_elapsed
                bare_rps.append(bare_near)
            else:  # the bare endpoint again, right after: the ratio divides by the bare runs either side
                check, check_elapsed = closed_loop(port, sessions, endpoints["bare"], args.clients, args.seconds / 2)
                bare_rps.append(len(check.latencies) / check_elapsed)
                bare_near = (bare_rps[-2] + bare_rps[-1]) / 2
            cpu0 = time.process_time()
            fixed, fixed_elapsed = open_loop(port, sessions, path, args.rate, args.seconds, args.pool)
            cpu_b = time.process_time() - cpu0
            done = len(top.latencies)
            row = {
                "name": name,
                "queries": measured[name][0],
                "cpu": measured[name][1],
                "rps": done / top_elapsed,
                "bare_near": bare_near,
                "top_p50": statistics.median(top.latencies) * 1000 if done else float("nan"),
                "top_p99": percentile(top.latencies, 0.99) * 1000,
                "top_errors": top.errors,
                "client_cpu_a": cpu_a / top_elapsed,
                "offered": args.rate,
                "achieved": len(fixed.latencies) / fixed_elapsed,
                "p50": statistics.median(fixed.latencies) * 1000 if fixed.latencies else float("nan"),
                "p99": percentile(fixed.latencies, 0.99) * 1000,
                "errors": fixed.errors,
                "client_cpu_b": cpu_b / fixed_elapsed,
                "load": os.getloadavg()[0],
            }
            rows.append(row)
            print(
                f"{name:<16} (a) {row['rps']:6.1f} req/s, p50 {row['top_p50']:.1f} ms, p99 {row['top_p99']:.1f} ms,"
                f" errors {row['top_errors'] or 0}, bare around it {bare_near:.1f} req/s"
                f" | (b) {row['achieved']:.1f} of {args.rate:.0f} req/s answered,"
                f" p50 {row['p50']:.1f} ms, p99 {row['p99']:.1f} ms, errors {row['errors'] or 0} | client CPU (a)/(b)"
                f" {row['client_cpu_a'] * 100:.0f}%/{row['client_cpu_b'] * 100:.0f}% | load {row['load']:.1f}",
                flush=True,
            )
            drain(port, sessions[0], endpoints["bare"])
    finally:
        stop_gunicorn(server)

    rate = f"{args.rate:.0f}/s"
    print()
    print(
        f"| endpoint | queries | CPU ms/request (in-process) | (a) req/s, {args.clients} clients |"
        f" bare req/s around it | ratio to bare | (b) answered at {rate} | p50 at {rate} | p99 at {rate} |"
        " errors (a) / (b) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        row["ratio"] = row["rps"] / row["bare_near"]
        print(
            f"| {row['name']} | {row['queries']} | {row['cpu']:.1f} | {row['rps']:.0f} | {row['bare_near']:.0f} |"
            f" {row['ratio']:.2f}x | {row['achieved']:.0f}/s | {row['p50']:.0f} ms | {row['p99']:.0f} ms |"
            f" {sum(row['top_errors'].values())} / {sum(row['errors'].values())} |"
        )
    missed = [r for r in rows[1:] if r["ratio"] < 0.5 or r["p99"] >= 150 or r["errors"]]
    print(
        f"target (>= 0.5x the bare endpoint's requests/s; p99 < 150 ms and no errors at {rate}): "
        + ("met by every page" if not missed else "missed by " + ", ".join(r["name"] for r in missed))
    )


if __name__ == "__main__":
    main()
