#!/usr/bin/env python3
"""eunomia benchmarks (make bench): pipeline, end to end against a C consumer, footprint,
stack symbolization.

Writes bench/results/latest.json and bench/results/latest.md. Timing is reported, never asserted.
"""
import glob
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import http.client
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("EUNOMIA_BIN") or os.path.join(ROOT, "bin", "eunomia")
BUILD = os.path.join(ROOT, "build")
PIPELINE = os.path.join(ROOT, ".build", "release", "eunomia-bench-pipeline")
FOOTPRINT = os.path.join(ROOT, ".build", "release", "eunomia-bench-footprint")
SWAPBENCH = os.path.join(ROOT, ".build", "release", "eunomia-bench-swap")
HTTPFLOOR = os.path.join(ROOT, ".build", "release", "eunomia-bench-http-floor")
N_SWAPS = int(os.environ.get("BENCH_SWAPS", 100))
N_SOAK = int(os.environ.get("BENCH_SOAK_SWAPS", 1000))
N_PIPELINE = int(os.environ.get("BENCH_PIPELINE_EVENTS", 10_000_000))
M_OPENS = int(os.environ.get("BENCH_OPENS", 2_000_000))


def run_json(cmd, **kw):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout
    return json.loads(out.strip().splitlines()[-1])


def completed_schemas():
    """build/bench/schemas/NAME/schema.json: each bundled package's schema as pack completed it
    (sizes and offsets from BTF; Plugins/*/schema.json leaves them out). The pipeline finds the
    rules' other plugins beside opensnoop's, as in Plugins/."""
    out = os.path.join(BUILD, "bench", "schemas")
    for pkg in glob.glob(os.path.join(BUILD, "packages", "*.pkg")):
        with zipfile.ZipFile(pkg) as z:
            schema = z.read("schema.json")
        name = json.loads(schema)["name"]
        os.makedirs(os.path.join(out, name), exist_ok=True)
        with open(os.path.join(out, name, "schema.json"), "wb") as f:
            f.write(schema)
    return out


def pipeline():
    results = {}
    schema = os.path.join(completed_schemas(), "opensnoop", "schema.json")
    for fmt in ("table", "json", "csv"):
        # One core, as the target says.
        r = run_json(["taskset", "-c", "1", PIPELINE, os.path.join(BUILD, "bench", "synthetic.so"), schema, str(N_PIPELINE), fmt])
        results[fmt] = {k: r[k] for k in ("events", "lost", "ns_per_event", "events_per_s", "cpu_s", "wall_s")}
        print(f"pipeline {fmt:5}: {r['ns_per_event']:.1f} ns/event, {r['events_per_s'] / 1e6:.2f} M events/s", flush=True)
    # JSON again, every record from a task in a docker-named cgroup: the cost of naming its container.
    mount = cgroup2_mount()
    cg = os.path.join(mount, f"eunomia-bench-{os.getpid()}", "docker-" + "ab" * 32 + ".scope")
    os.makedirs(cg)
    try:
        # JSON names it in an object, a table in its CONTAINER column.
        for fmt in ("json", "table"):
            r = run_json(["taskset", "-c", "1", PIPELINE, os.path.join(BUILD, "bench", "synthetic.so"), schema, str(N_PIPELINE), fmt,
                          "--cgroup", str(os.stat(cg).st_ino)])
            results[f"{fmt}_container"] = {k: r[k] for k in ("events", "lost", "ns_per_event", "events_per_s", "cpu_s", "wall_s")}
            print(f"pipeline {fmt} with container: {r['ns_per_event']:.1f} ns/event", flush=True)
    finally:
        os.rmdir(cg)
        os.rmdir(os.path.dirname(cg))
    # A 3-clause filter every record passes (the formatting is the same: the difference is the
    # filter's), and the default rule set beside the formatter (no rule fires on these records).
    extra = {
        "json_filter3": ["--filter", 'comm == "loadgen" and fd < 64 and path startswith "/usr/lib/"'],
        "json_rules": ["--rules", os.path.join(ROOT, "rules", "default.yaml")],
    }
    for name, flags in extra.items():
        r = run_json(["taskset", "-c", "1", PIPELINE, os.path.join(BUILD, "bench", "synthetic.so"), schema, str(N_PIPELINE), "json"] + flags)
        results[name] = {k: r[k] for k in ("events", "lost", "ns_per_event", "events_per_s", "cpu_s", "wall_s", "rules", "alerts")}
        print(f"pipeline json, {name}: {r['ns_per_event']:.1f} ns/event ({r['rules']} rules, {r['alerts']} alerts)", flush=True)
    results["container_cache_1000"] = run_json([PIPELINE, "container-cache", "1000"])
    print(f"container cache, 1000 cgroups: {results['container_cache_1000']}", flush=True)
    return results


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if "-" in fields and fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    sys.exit("bench: no cgroup2 mount")


class Tracer:
    """A tracer process whose CPU time is taken from wait4() when it exits."""

    def __init__(self, cmd, env=None):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
        self.started = time.monotonic()
        line = ""
        while "attached" not in line:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError(f"{cmd[0]} exited before attaching")

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        rest = self.proc.stderr.read()
        return usage.ru_utime + usage.ru_stime, rest


def loadgen(files):
    return run_json([os.path.join(BUILD, "bench", "loadgen"), str(M_OPENS)] + files)


def end_to_end(store):
    work = tempfile.mkdtemp(prefix="eunomia-bench-")
    files = []
    for i in range(16):
        path = os.path.join(work, f"file{i}")
        with open(path, "w") as f:
            f.write("x")
        files.append(path)
    env = dict(os.environ, EUNOMIA_HOME=store)
    result = {"opens": M_OPENS}
    try:
        base = loadgen(files)
        result["none"] = {"opens_per_s": base["opens_per_s"]}
        print(f"e2e none    : {base['opens_per_s'] / 1e6:.3f} M opens/s", flush=True)

        def traced(name, cmd, parse):
            t = Tracer(cmd, env)
            load = loadgen(files)
            time.sleep(0.3)  # let the tracer drain
            cpu, stderr = t.stop()
            events, lost = parse(stderr)
            r = {
                "opens_per_s": load["opens_per_s"],
                "slowdown": base["opens_per_s"] / load["opens_per_s"],
                "tracer_cpu_s": cpu,
                "cpu_ns_per_event": cpu * 1e9 / max(events, 1),
                "events": events,
                "expected_at_least": M_OPENS,
                "lost": lost,
            }
            print(f"e2e {name:8}: {load['opens_per_s'] / 1e6:.3f} M opens/s (x{r['slowdown']:.2f} slower), "
                  f"{r['cpu_ns_per_event']:.0f} ns CPU/event, {events} events, {lost} lost", flush=True)
            return r

        kernel = {}

        def parse_host(stderr):
            m = re.search(r": (\d+) events, (\d+) lost", stderr)
            if not m:
                raise RuntimeError("no summary from eunomia: " + stderr)
            # The run's kernel-side cost: its BPF programs' runs and time per run.
            k = re.search(r"kernel (\d+) runs, (\d+) ns/run", stderr)
            if k:
                kernel.update(runs=int(k.group(1)), ns_per_run=int(k.group(2)))
            return int(m.group(1)), int(m.group(2))

        def parse_c(stderr):
            r = json.loads(stderr.strip().splitlines()[-1])
            return r["events"], r["lost"]

        result["eunomia_json"] = traced("eunomia", [BIN, "run", "opensnoop", "--comm", "loadgen", "-o", "json", "--log-level", "info"], parse_host)
        result["eunomia_json"]["kernel"] = kernel
        print(f"e2e kernel cost of opensnoop: {kernel}", flush=True)
        # eunomia run keeps BPF statistics on (its kernel cost); so does the C consumer's run,
        # so both pay the same two clock reads per program run.
        stats = "/proc/sys/kernel/bpf_stats_enabled"
        with open(stats) as f:
            before = f.read().strip()
        with open(stats, "w") as f:
            f.write("1")
        try:
            result["c_consumer"] = traced("c", [os.path.join(BUILD, "bench", "minimal_consumer"),
                                                os.path.join(BUILD, "plugins", "opensnoop", "opensnoop.bpf.o"), "loadgen"], parse_c)
        finally:
            with open(stats, "w") as f:
                f.write(before)
        result["cpu_ratio_host_vs_c"] = result["eunomia_json"]["cpu_ns_per_event"] / result["c_consumer"]["cpu_ns_per_event"]
        print(f"host CPU/event vs C consumer: x{result['cpu_ratio_host_vs_c']:.2f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_breakdown_mb(pid):
    """Where a process's RSS is, from /proc/PID/smaps, in MB per kind of mapping."""
    kinds = {}
    kind = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            p = line.split()
            if len(p) >= 5 and "-" in p[0] and not p[0].endswith(":"):
                name = p[5] if len(p) > 5 else ""
                if name.startswith("anon_inode:bpf"):
                    kind = "bpf_maps"  # ring buffers (mapped twice by libbpf) and mmapped maps
                elif name == "" or name.startswith("["):
                    kind = "anonymous"
                elif name.startswith("/opt/swift/"):
                    kind = "swift_runtime_and_foundation"
                elif "/plugins/" in name:
                    kind = "plugins"
                elif name.endswith("/eunomia") or "eunomia-" in os.path.basename(name):
                    kind = "binary"
                else:
                    kind = "system_libraries"
            elif p and p[0] == "Rss:" and kind:
                kinds[kind] = kinds.get(kind, 0) + int(p[1]) / 1024
    return {k: round(v, 1) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])}


def http_floor_rss_mb():
    """Idle RSS of a bare Hummingbird 2 application on a Unix socket (bench/http-floor)."""
    d = tempfile.mkdtemp(prefix="eunomia-bench-floor-")
    sock = os.path.join(d, "floor.sock")
    proc = subprocess.Popen([HTTPFLOOR, sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            try:
                api(sock, "GET", "/api/v1/health")
                break
            except (OSError, RuntimeError, http.client.HTTPException, ValueError):
                time.sleep(0.05)
        time.sleep(2)
        return {"rss_mb": rss_kb(proc.pid) / 1024, "breakdown_mb": rss_breakdown_mb(proc.pid)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def footprint(store):
    env = dict(os.environ, EUNOMIA_HOME=store)
    result = {}
    # Time to first event: start the tracer, open a file every 1 ms until it prints.
    probe = tempfile.mktemp(prefix="eunomia-first-")
    t0 = time.monotonic()
    p = subprocess.Popen([BIN, "run", "opensnoop", "--comm", "python3", "-o", "json"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    os.set_blocking(p.stdout.fileno(), False)
    first = None
    while first is None and time.monotonic() - t0 < 20:
        try:
            open(probe).close()
        except FileNotFoundError:
            pass
        data = p.stdout.read()
        if data:
            first = time.monotonic() - t0
        time.sleep(0.001)
    p.send_signal(signal.SIGINT)
    p.wait()
    result["run_to_first_event_ms"] = first * 1000 if first else None
    print(f"run to first event: {result['run_to_first_event_ms']:.0f} ms", flush=True)

    # Idle: one tracker attached, filtered on a command that never runs.
    p = subprocess.Popen([BIN, "run", "opensnoop", "--comm", "no-such-comm", "--log-level", "info"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    while "attached" not in p.stderr.readline():
        pass
    time.sleep(1)
    ticks0, t0 = cpu_ticks(p.pid), time.monotonic()
    time.sleep(20)  # /proc counts 10 ms ticks: 20 s resolves 0.05%
    ticks1, t1 = cpu_ticks(p.pid), time.monotonic()
    result["idle_one_tracker"] = {
        "rss_mb": rss_kb(p.pid) / 1024,
        "cpu_percent": (ticks1 - ticks0) / os.sysconf("SC_CLK_TCK") / (t1 - t0) * 100,
    }
    p.send_signal(signal.SIGINT)
    p.wait()
    print(f"idle, 1 tracker: {result['idle_one_tracker']['rss_mb']:.1f} MB RSS, "
          f"{result['idle_one_tracker']['cpu_percent']:.2f}% CPU", flush=True)

    # One host process with 0 and with 5 idle trackers (the installed plugins, repeated to make 5).
    names = sorted({f.split("-")[0] for f in os.listdir(os.path.join(BUILD, "packages")) if f.endswith(".pkg")})
    for n in (0, 5):
        chosen = [names[i % len(names)] for i in range(n)]
        r = run_json([FOOTPRINT, "20"] + chosen, env=env)
        result[f"idle_host_{n}_trackers"] = {"trackers": chosen, "rss_mb": r["rss_mb"], "cpu_percent": r["cpu_percent"],
                                             "wakeups_per_s": r.get("wakeups_per_s")}
        print(f"idle host, {n} trackers: {r['rss_mb']:.1f} MB RSS, {r['cpu_percent']:.2f}% CPU", flush=True)

    # Install time, into a fresh store.
    fresh = tempfile.mkdtemp(prefix="eunomia-install-")
    trust_build_key(fresh)
    pkg = sorted(f for f in os.listdir(os.path.join(BUILD, "packages")) if f.startswith("opensnoop-"))[-1]
    t0 = time.monotonic()
    subprocess.run([BIN, "plugin", "install", os.path.join(BUILD, "packages", pkg)], check=True, capture_output=True,
                   env=dict(os.environ, EUNOMIA_HOME=fresh))
    result["install_ms"] = (time.monotonic() - t0) * 1000
    shutil.rmtree(fresh, ignore_errors=True)
    print(f"install: {result['install_ms']:.0f} ms", flush=True)
    return result


def swaps(store):
    """Start, event and swap latency, and a swap soak, in one host process (bench/swap)."""
    env = dict(os.environ, EUNOMIA_HOME=store)
    subprocess.run([BIN, "plugin", "install", os.path.join(BUILD, "bench", "opensnoop-0.2.0.pkg")], check=True,
                   capture_output=True, env=env)
    r = run_json([SWAPBENCH, str(N_SWAPS), str(N_SOAK)], env=env)
    print(f"start to first event: p50 {r['start_to_first_event_ms']['p50']:.1f} ms; event to output: p50 "
          f"{r['event_to_output_ms']['p50']:.2f} ms p99 {r['event_to_output_ms']['p99']:.2f} ms; swap to new version: p50 "
          f"{r['swap_to_new_version_ms']['p50']:.1f} ms p99 {r['swap_to_new_version_ms']['p99']:.1f} ms; soak "
          f"{r['soak']['swaps']} swaps: fds {r['soak']['fds']}, threads {r['soak']['threads']}, RSS {r['soak']['rss_kb']} KiB", flush=True)
    return r


class UnixHTTP(http.client.HTTPConnection):
    """HTTP over the server's Unix socket."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def api(sock, method, path, body=None):
    c = UnixHTTP(sock)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"} if body is not None else {})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data) if data else None


class Server:
    """`eunomia server` on a private socket and store."""

    def __init__(self, store):
        self.dir = tempfile.mkdtemp(prefix="eunomia-bench-server-")
        self.sock = os.path.join(self.dir, "eunomia.sock")
        self.proc = subprocess.Popen([BIN, "server", "--socket", self.sock, "--store", store, "--log-level", "warning"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            try:
                api(self.sock, "GET", "/api/v1/health")
                return
            except (OSError, RuntimeError, http.client.HTTPException):
                time.sleep(0.05)
        raise RuntimeError("eunomia server did not come up")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class Stream(threading.Thread):
    """One NDJSON client of a tracker's events: counts lines, notes when a marker first appears."""

    def __init__(self, sock, tracker, marker=None):
        super().__init__(daemon=True)
        self.sock, self.tracker, self.marker = sock, tracker, marker
        self.lines, self.seen_at, self.ready = 0, None, threading.Event()

    def run(self):
        c = UnixHTTP(self.sock, timeout=600)
        c.request("GET", f"/api/v1/trackers/{self.tracker}/events?format=ndjson")
        r = c.getresponse()
        self.ready.set()
        while True:
            line = r.fp.readline()
            if not line:
                return
            self.lines += 1
            if self.marker and self.seen_at is None and self.marker.encode() in line:
                self.seen_at = time.monotonic()


EVENT_TRACKERS = ["bindsnoop", "execsnoop", "exitsnoop", "mountsnoop", "opensnoop", "sigsnoop", "statsnoop",
                  "tcpconnect", "tcpstates", "oomkill"]


def daemon(store, end_to_end_result):
    """The server: idle with 5 trackers, API start to first event, every event tracker under the
    open storm with one NDJSON client on opensnoop's stream."""
    result = {}
    server = Server(store)
    try:
        # Idle, 5 trackers filtered on a command that never runs.
        for name in ["opensnoop", "execsnoop", "exitsnoop", "bindsnoop", "statsnoop"]:
            api(server.sock, "POST", "/api/v1/trackers", {"id": f"idle-{name}", "plugin": name, "params": {"comm": "no-such-comm"}})
        time.sleep(2)
        ticks0, t0 = cpu_ticks(server.proc.pid), time.monotonic()
        time.sleep(20)
        ticks1, t1 = cpu_ticks(server.proc.pid), time.monotonic()
        result["idle_5_trackers"] = {"rss_mb": rss_kb(server.proc.pid) / 1024,
                                     "cpu_percent": (ticks1 - ticks0) / os.sysconf("SC_CLK_TCK") / (t1 - t0) * 100,
                                     "breakdown_mb": rss_breakdown_mb(server.proc.pid)}
        print(f"idle server, 5 trackers: {result['idle_5_trackers']['rss_mb']:.1f} MB RSS, "
              f"{result['idle_5_trackers']['cpu_percent']:.2f}% CPU; {result['idle_5_trackers']['breakdown_mb']}", flush=True)
        result["http_floor"] = http_floor_rss_mb()
        print(f"a bare Hummingbird 2 application, idle: {result['http_floor']['rss_mb']:.1f} MB RSS; "
              f"{result['http_floor']['breakdown_mb']}", flush=True)
        for name in ["opensnoop", "execsnoop", "exitsnoop", "bindsnoop", "statsnoop"]:
            api(server.sock, "DELETE", f"/api/v1/trackers/idle-{name}")

        # API request to first event: start, connect a stream, open a marked file every ms.
        starts = []
        for i in range(10):
            marker = tempfile.mktemp(prefix=f"eunomia-api-first-{i}-")
            t0 = time.monotonic()
            api(server.sock, "POST", "/api/v1/trackers", {"id": f"first{i}", "plugin": "opensnoop", "params": {"comm": "python3"}})
            stream = Stream(server.sock, f"first{i}", marker)
            stream.start()
            stream.ready.wait(10)
            while stream.seen_at is None and time.monotonic() - t0 < 10:
                try:
                    open(marker).close()
                except FileNotFoundError:
                    pass
                time.sleep(0.001)
            if stream.seen_at:
                starts.append((stream.seen_at - t0) * 1000)
            api(server.sock, "DELETE", f"/api/v1/trackers/first{i}")
        starts.sort()
        result["api_start_to_first_event_ms"] = {"p50": starts[len(starts) // 2] if starts else None,
                                                 "max": starts[-1] if starts else None}
        print(f"API start to first event: p50 {result['api_start_to_first_event_ms']['p50']:.0f} ms", flush=True)

        # Every event tracker at once under the open storm, opensnoop's stream read by one client.
        for name in EVENT_TRACKERS:
            # Filtered on the load generator where the tracker has a comm filter (tcpstates and
            # oomkill have none: they see the whole machine, which is quiet).
            try:
                api(server.sock, "POST", "/api/v1/trackers", {"id": f"storm-{name}", "plugin": name, "params": {"comm": "loadgen"}})
            except RuntimeError:
                api(server.sock, "POST", "/api/v1/trackers", {"id": f"storm-{name}", "plugin": name, "params": {}})
        stream = Stream(server.sock, "storm-opensnoop")
        stream.start()
        stream.ready.wait(10)
        time.sleep(0.5)
        files = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "Makefile")]
        ticks0, lines0 = cpu_ticks(server.proc.pid), stream.lines
        load = loadgen(files)
        time.sleep(1)
        ticks1 = cpu_ticks(server.proc.pid)
        listed = api(server.sock, "GET", "/api/v1/trackers")
        trackers = {t["id"]: t for t in (listed["trackers"] if isinstance(listed, dict) else listed)}
        opens = trackers["storm-opensnoop"]
        events = sum(t["events"] for t in trackers.values())
        lost = sum(t["lost"] for t in trackers.values())
        delivered = stream.lines - lines0
        cpu_s = (ticks1 - ticks0) / os.sysconf("SC_CLK_TCK")
        result["storm_all_event_trackers"] = {
            "trackers": len(EVENT_TRACKERS), "opens": load["opens"], "opens_per_s": load["opens_per_s"],
            "events": events, "lost": lost, "server_cpu_s": cpu_s,
            "cpu_ns_per_event": cpu_s * 1e9 / max(events, 1),
            "run_alone_cpu_ns_per_event": end_to_end_result["eunomia_json"]["cpu_ns_per_event"],
            "stream_delivered": delivered, "stream_dropped": sum(opens.get("dropped", {}).values()),
            "stream_events_per_s": delivered / max(load["seconds"], 1e-9),
        }
        r = result["storm_all_event_trackers"]
        print(f"server, {r['trackers']} event trackers under the storm: {r['events']} events, {r['lost']} lost, "
              f"{r['cpu_ns_per_event']:.0f} ns CPU/event (eunomia run alone {r['run_alone_cpu_ns_per_event']:.0f}); "
              f"stream {r['stream_delivered']} delivered ({r['stream_events_per_s'] / 1e3:.0f} k/s), {r['stream_dropped']} dropped", flush=True)
        for name in EVENT_TRACKERS:
            api(server.sock, "DELETE", f"/api/v1/trackers/storm-{name}")
    finally:
        server.stop()
    return result


def memleak(store):
    """A malloc-heavy program alone, then started by memleak (uprobes on every malloc and free)."""
    load = os.path.join(BUILD, "bench", "malloc_load")
    n = int(os.environ.get("BENCH_MALLOC_PAIRS", 1_000_000))
    untraced = sorted(run_json([load, str(n)])["ns_per_pair"] for _ in range(3))[1]
    traced_runs = []
    for _ in range(3):
        p = subprocess.Popen([BIN, "run", "memleak", "--param", f"command={load} {n}", "--interval", "0", "-o", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, EUNOMIA_HOME=store))
        for line in p.stdout:
            if line.startswith('{"pairs"'):
                traced_runs.append(json.loads(line)["ns_per_pair"])
                break
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=60)
    traced = sorted(traced_runs)[len(traced_runs) // 2]
    r = {"pairs": n, "untraced_ns_per_pair": untraced, "traced_ns_per_pair": traced, "slowdown": traced / untraced}
    print(f"memleak: {untraced:.0f} ns -> {traced:.0f} ns per malloc/free pair (x{r['slowdown']:.0f})", flush=True)
    return r


def symbolize():
    r = run_json([os.path.join(BUILD, "bench", "symbolize")])
    print(f"symbolize: {r['symbols_per_s'] / 1e6:.2f} M symbols/s, kallsyms {r['kallsyms_load_ms']:.0f} ms, "
          f"{r['total_bytes'] / 2**20:.1f} MiB", flush=True)
    return r


def registry():
    """Install by name from build/registry as a folder and over HTTP (python's http.server), and
    from an OCI registry (Debian's docker-registry), each into a fresh store; and indexing it."""
    reg = os.path.join(BUILD, "registry")
    result = {"date": time.strftime("%Y-%m-%d %H:%M:%S")}
    work = tempfile.mkdtemp(prefix="eunomia-bench-registry-")

    def timed(cmd, runs=5):
        samples = []
        for _ in range(runs):
            store = tempfile.mkdtemp(dir=work)
            trust_build_key(store)
            t0 = time.monotonic()
            subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, EUNOMIA_HOME=store))
            samples.append((time.monotonic() - t0) * 1000)
            shutil.rmtree(store, ignore_errors=True)
        return statistics.median(samples)

    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    procs = []
    try:
        shutil.copytree(reg, os.path.join(work, "copy"))
        t0 = time.monotonic()
        subprocess.run([BIN, "registry", "index", os.path.join(work, "copy")], check=True, capture_output=True)
        result["index_17_packages_ms"] = (time.monotonic() - t0) * 1000
        result["install_by_name_folder_ms"] = timed([BIN, "plugin", "install", "opensnoop", "--registry", reg])
        port = free_port()
        procs.append(subprocess.Popen(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", reg],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        url = f"http://127.0.0.1:{port}"
        wait_for_port(port)
        result["install_by_name_http_ms"] = timed([BIN, "plugin", "install", "opensnoop", "--registry", url])
        plugins = sorted(f.split("-")[0] for f in os.listdir(reg) if f.endswith(".pkg"))
        result["install_all_http_ms"] = timed([BIN, "plugin", "install", "--registry", url] + plugins, runs=1)
        result["plugins"] = len(plugins)
        oci = free_port()
        cfg = os.path.join(work, "registry.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {work}/oci\nhttp:\n  addr: 127.0.0.1:{oci}\n")
        procs.append(subprocess.Popen(["docker-registry", "serve", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for_port(oci)
        ref = f"oci://127.0.0.1:{oci}/eunomia/opensnoop:bench"
        pkg = os.path.join(reg, sorted(f for f in os.listdir(reg) if f.startswith("opensnoop-"))[-1])
        t0 = time.monotonic()
        subprocess.run([BIN, "plugin", "push", pkg, ref], check=True, capture_output=True)
        result["oci_push_ms"] = (time.monotonic() - t0) * 1000
        result["install_oci_ms"] = timed([BIN, "plugin", "install", ref])
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    print("registry: " + ", ".join(f"{k} {v:.0f}" for k, v in result.items() if k.endswith("_ms")), flush=True)
    return result


def wait_for_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"bench: nothing listens on 127.0.0.1:{port} after {timeout} s")


def machine():
    with open("/proc/cpuinfo") as f:
        model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    return {"kernel": platform.release(), "cpu": model, "cores": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def markdown(r):
    p, e, f = r["pipeline"], r["end_to_end"], r["footprint"]
    lines = [
        f"Machine: {r['machine']['cpu']}, {r['machine']['cores']} cores, Linux {r['machine']['kernel']} ({r['date']})",
        "",
        "| benchmark | result |",
        "| --- | --- |",
    ]
    for fmt in ("table", "json", "csv"):
        lines.append(f"| pipeline {fmt} (1 core) | {p[fmt]['ns_per_event']:.0f} ns/event, {p[fmt]['events_per_s'] / 1e6:.2f} M events/s |")
    if "json_container" in p:
        c = p["container_cache_1000"]
        lines += [
            f"| pipeline json, every record in a container (1 core) | {p['json_container']['ns_per_event']:.0f} ns/event "
            f"(+{p['json_container']['ns_per_event'] - p['json']['ns_per_event']:.0f} ns for the container) |",
            *([f"| pipeline table, every record in a container (1 core) | {p['table_container']['ns_per_event']:.0f} ns/event "
               f"(+{p['table_container']['ns_per_event'] - p['table']['ns_per_event']:.0f} ns for the CONTAINER column) |"]
              if "table_container" in p else []),
            f"| container cache, {c['cgroups']} docker cgroups resolved | {c['rss_added_kb']} KiB RSS added, {c['us_per_resolution']:.1f} µs per resolution |",
        ]
    if "json_filter3" in p:
        lines.append(f"| pipeline json behind a 3-clause `--filter` every record passes (1 core) | {p['json_filter3']['ns_per_event']:.0f} ns/event "
                     f"(+{p['json_filter3']['ns_per_event'] - p['json']['ns_per_event']:.0f} ns for the filter) |")
    if "json_rules" in p:
        lines.append(f"| pipeline json with rules/default.yaml beside it ({p['json_rules']['rules']} rules apply to opensnoop, 1 core) | "
                     f"{p['json_rules']['ns_per_event']:.0f} ns/event (+{p['json_rules']['ns_per_event'] - p['json']['ns_per_event']:.0f} ns for the rules) |")
    lines += [
        f"| openat load, no tracer | {e['none']['opens_per_s'] / 1e6:.3f} M opens/s |",
        f"| with `eunomia run opensnoop -o json` | {e['eunomia_json']['opens_per_s'] / 1e6:.3f} M opens/s (x{e['eunomia_json']['slowdown']:.2f}), "
        f"{e['eunomia_json']['cpu_ns_per_event']:.0f} ns CPU/event, {e['eunomia_json']['events']} events, {e['eunomia_json']['lost']} lost |",
        *([f"| opensnoop's kernel-side cost in that storm (its BPF programs, from the run summary) | "
           f"{e['eunomia_json']['kernel']['runs']} runs, {e['eunomia_json']['kernel']['ns_per_run']} ns/run |"]
          if e['eunomia_json'].get('kernel') else []),
        f"| with minimal C consumer | {e['c_consumer']['opens_per_s'] / 1e6:.3f} M opens/s (x{e['c_consumer']['slowdown']:.2f}), "
        f"{e['c_consumer']['cpu_ns_per_event']:.0f} ns CPU/event, {e['c_consumer']['events']} events, {e['c_consumer']['lost']} lost |",
        f"| host CPU per event vs C consumer | x{e['cpu_ratio_host_vs_c']:.2f} |",
        f"| `eunomia run` to first event | {f['run_to_first_event_ms']:.0f} ms |",
        f"| idle `eunomia run`, 1 tracker | {f['idle_one_tracker']['rss_mb']:.1f} MB RSS, {f['idle_one_tracker']['cpu_percent']:.2f}% CPU |",
        f"| idle host process, 0 trackers | {f['idle_host_0_trackers']['rss_mb']:.1f} MB RSS, {f['idle_host_0_trackers']['cpu_percent']:.2f}% CPU |",
        f"| idle host process, 5 trackers | {f['idle_host_5_trackers']['rss_mb']:.1f} MB RSS, {f['idle_host_5_trackers']['cpu_percent']:.2f}% CPU |",
        f"| `eunomia plugin install` | {f['install_ms']:.0f} ms |",
    ]
    if "swaps" in r:
        w = r["swaps"]
        lines += [
            f"| tracker start to first event (in process) | p50 {w['start_to_first_event_ms']['p50']:.1f} ms, p99 {w['start_to_first_event_ms']['p99']:.1f} ms |",
            f"| event to output, 20 opens/s | p50 {w['event_to_output_ms']['p50']:.2f} ms, p99 {w['event_to_output_ms']['p99']:.2f} ms |",
            f"| hot swap, request to the new version's first event ({w['swap_to_new_version_ms']['n']} swaps) | p50 "
            f"{w['swap_to_new_version_ms']['p50']:.1f} ms, p99 {w['swap_to_new_version_ms']['p99']:.1f} ms (whole swap p50 {w['swap_whole_ms']['p50']:.0f} ms) |",
            f"| swap soak ({w['soak']['swaps']} swaps) | fds {w['soak']['fds'][0]} -> {w['soak']['fds'][1]}, threads {w['soak']['threads'][0]} -> "
            f"{w['soak']['threads'][1]}, RSS {w['soak']['rss_kb'][0] / 1024:.1f} -> {w['soak']['rss_kb'][1] / 1024:.1f} MB; lost in swaps {w['lost_in_swaps']} |",
        ]
    if "daemon" in r:
        d = r["daemon"]
        st = d["storm_all_event_trackers"]
        lines += [
            f"| idle `eunomia server`, 5 trackers | {d['idle_5_trackers']['rss_mb']:.1f} MB RSS, {d['idle_5_trackers']['cpu_percent']:.2f}% CPU; "
            + ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in d['idle_5_trackers'].get('breakdown_mb', {}).items()) + " |",
        ]
        if "http_floor" in d:
            lines.append(f"| a bare Hummingbird 2 application (bench/http-floor), idle | {d['http_floor']['rss_mb']:.1f} MB RSS; "
                         + ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in d['http_floor']['breakdown_mb'].items()) + " |")
        lines += [
            f"| API start request to first event | p50 {d['api_start_to_first_event_ms']['p50']:.0f} ms |",
            f"| server, {st['trackers']} event trackers under the open storm | {st['events']} events, {st['lost']} lost, "
            f"{st['cpu_ns_per_event']:.0f} ns CPU/event (`eunomia run` alone: {st['run_alone_cpu_ns_per_event']:.0f}) |",
            f"| one NDJSON client on opensnoop's stream, same storm | {st['stream_events_per_s'] / 1e3:.0f} k events/s delivered, "
            f"{st['stream_delivered']} delivered, {st['stream_dropped']} dropped (counted) |",
        ]
    if "registry" in r:
        g = r["registry"]
        lines += [
            f"| install opensnoop by name: from a folder / over HTTP / from an OCI registry (fresh store each) | "
            f"{g['install_by_name_folder_ms']:.0f} ms / {g['install_by_name_http_ms']:.0f} ms / {g['install_oci_ms']:.0f} ms |",
            f"| install all {g['plugins']} bundled plugins by name over HTTP; `registry index` of them; `plugin push` to OCI | "
            f"{g['install_all_http_ms']:.0f} ms; {g['index_17_packages_ms']:.0f} ms; {g['oci_push_ms']:.0f} ms |",
        ]
    if "memleak" in r:
        m = r["memleak"]
        lines.append(f"| memleak on a malloc-heavy program ({m['pairs']} malloc/free pairs) | {m['untraced_ns_per_pair']:.0f} ns per pair "
                     f"untraced, {m['traced_ns_per_pair']:.0f} ns traced: x{m['slowdown']:.0f} |")
    if "symbolize" in r:
        y = r["symbolize"]
        lines += [
            f"| stack symbolization (1 M random libc + kernel addresses) | {y['symbols_per_s'] / 1e6:.2f} M symbols/s "
            f"({y['ns_per_symbol']:.0f} ns), {y['symbols_per_s_begin_every_1000'] / 1e6:.2f} M/s with a report every 1000 |",
            f"| symbol tables: libc / kernel | {y['libc_load_ms']:.1f} ms, {y['libc_symbols']} symbols, {y['libc_bytes'] / 1024:.0f} KiB / "
            f"{y['kallsyms_load_ms']:.0f} ms, {y['kernel_symbols']} symbols, {y['kernel_bytes'] / 2**20:.1f} MiB |",
        ]
    return "\n".join(lines) + "\n"


def trust_build_key(store):
    """The bundled packages are signed with the key make build generated (build/keys/)."""
    subprocess.run([BIN, "key", "trust", os.path.join(BUILD, "keys", "local-build.pub")], check=True,
                   capture_output=True, env=dict(os.environ, EUNOMIA_HOME=store))


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (it loads BPF programs)")
    store = tempfile.mkdtemp(prefix="eunomia-bench-store-")
    try:
        trust_build_key(store)
        for pkg in os.listdir(os.path.join(BUILD, "packages")):
            if pkg.endswith(".pkg"):
                subprocess.run([BIN, "plugin", "install", os.path.join(BUILD, "packages", pkg)], check=True,
                               capture_output=True, env=dict(os.environ, EUNOMIA_HOME=store))
        e2e = end_to_end(store)
        results = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "pipeline": pipeline(),
                   "end_to_end": e2e, "footprint": footprint(store), "symbolize": symbolize(),
                   "swaps": swaps(store), "daemon": daemon(store, e2e), "memleak": memleak(store),
                   "registry": registry()}
    finally:
        shutil.rmtree(store, ignore_errors=True)
    out = os.path.join(ROOT, "bench", "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
