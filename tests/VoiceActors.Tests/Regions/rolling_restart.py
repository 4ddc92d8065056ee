#!/usr/bin/env python3
"""Rolling restart by hand: three silo processes (eu, eu, us) on a real redis-server, a standalone gateway,
N live sessions; every silo is restarted in turn with SIGTERM (graceful drain); then every session is checked.

usage: python3 tests/VoiceActors.Tests/Regions/rolling_restart.py [--sessions 300]
Needs `dotnet build` of src/Silo and src/Gateway (Debug) first. Prints the drain summary of each silo and the sessions lost.
"""
import argparse, json, os, re, shutil, signal, socket, subprocess, tempfile, time, urllib.request, urllib.error, uuid
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
SILO = os.path.join(ROOT, "src/Silo/bin/Debug/net10.0/VoiceActors.Silo.dll")
GATEWAY = os.path.join(ROOT, "src/Gateway/bin/Debug/net10.0/VoiceActors.Gateway.dll")
KEY, OPS = "rr-tenant-key", "rr-ops-key"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, key=KEY, timeout=10):
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_until(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if cond():
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--keep-logs", action="store_true", help="keep the silo and gateway logs (path printed)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="va-rolling-")
    procs = []
    redis_port = free_port()
    procs.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", work, "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL))
    redis = f"127.0.0.1:{redis_port},abortConnect=false"
    cluster = "rr-" + uuid.uuid4().hex[:8]
    common = [f"--ConnectionStrings:Redis={redis}", f"--Orleans:ClusterId={cluster}", f"--Orleans:ServiceId={cluster}",
              "--Regions:eu:Primary=true", "--Regions:eu:Fallback:0=us", "--Regions:us:Fallback:0=eu",
              "--RegionHealth:ViewRefreshPeriod=00:00:00.500", "--Drain:Deadline=00:00:30",
              f"--Gateway:ApiKeys:0:Key={KEY}", "--Gateway:ApiKeys:0:Tenant=acme",
              f"--Gateway:ApiKeys:1:Key={OPS}", "--Gateway:ApiKeys:1:Tenant=ops", "--Gateway:OperatorTenants:0=ops",
              "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Orleans=Error"]
    silos = []

    def start_silo(s):
        log = open(os.path.join(work, f"silo-{s['silo_port']}.log"), "a")
        s["log"] = log.name
        s["proc"] = subprocess.Popen(["dotnet", SILO, f"--Orleans:SiloPort={s['silo_port']}", f"--Orleans:GatewayPort={s['gw_port']}",
                                      f"--urls=http://127.0.0.1:{s['http']}", f"--Silo:Region={s['region']}",
                                      "--Silo:MaxConcurrentSessions=1000"] + common, stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{s['http']}/healthz", timeout=2).status == 200, 90, f"silo {s['silo_port']} healthy")

    try:
        for region in ["eu", "eu", "us"]:
            silos.append({"region": region, "silo_port": free_port(), "gw_port": free_port(), "http": free_port()})
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(start_silo, silos))
        gw_port = free_port()
        gw_log = open(os.path.join(work, "gateway.log"), "w")
        procs.append(subprocess.Popen(["dotnet", GATEWAY, f"--urls=http://127.0.0.1:{gw_port}"] + common, stdout=gw_log, stderr=subprocess.STDOUT))
        gw = f"http://127.0.0.1:{gw_port}"
        wait_until(lambda: urllib.request.urlopen(f"{gw}/healthz", timeout=2).status == 200, 90, "gateway healthy")
        wait_until(lambda: sum(len(r["silos"]) for r in http("GET", f"{gw}/v1/regions", key=OPS)[1]) == 3, 60, "all silos reported")

        def create(i):
            pings = {"eu": 20, "us": 150} if i % 3 else {"us": 10, "eu": 160}
            status, body = http("POST", f"{gw}/v1/interviews", {"candidateId": f"cand-{i}", "jobId": "job", "regionPings": pings})
            assert status == 201, (status, body)
            return body["sessionId"], body["region"]
        t0 = time.time()
        with ThreadPoolExecutor(16) as pool:
            sessions = list(pool.map(create, range(args.sessions)))
        print(f"created {len(sessions)} sessions in {time.time() - t0:.1f}s:",
              {r: sum(1 for _, x in sessions if x == r) for r in ("eu", "us")})
        print("per silo before:", [(r["name"], x["activeSessions"]) for r in http("GET", f"{gw}/v1/regions", key=OPS)[1] for x in r["silos"]])

        for s in silos:
            t = time.time()
            s["proc"].send_signal(signal.SIGTERM)
            s["proc"].wait(timeout=60)
            down = time.time() - t
            summary = re.findall(r"Drain finished: .*", open(s["log"]).read())
            print(f"silo {s['region']}:{s['silo_port']} drained and exited in {down:.1f}s: {summary[-1] if summary else 'no summary'}")
            start_silo(s)
            wait_until(lambda: sum(len([x for x in r["silos"] if not x["draining"]]) for r in http("GET", f"{gw}/v1/regions", key=OPS)[1]) == 3,
                       60, "restarted silo reported")

        def check(sid):
            for _ in range(5):
                status, body = http("GET", f"{gw}/v1/interviews/{sid}")
                if status == 200:
                    return body["state"]
                time.sleep(0.5)
            return f"http {status}"
        with ThreadPoolExecutor(16) as pool:
            states = list(pool.map(check, [sid for sid, _ in sessions]))
        live = sum(1 for s in states if s in ("WaitingForParticipants", "Active", "Reconnecting", "Provisioning"))
        print(f"after rolling restart of all 3 silos: {live} of {len(sessions)} live, lost {len(sessions) - live}; states:",
              {s: states.count(s) for s in set(states)})
        time.sleep(3)  # one more round of reports
        print("per silo after:", [(r["name"], x["activeSessions"]) for r in http("GET", f"{gw}/v1/regions", key=OPS)[1] for x in r["silos"]])
    finally:
        for s in silos:
            if "proc" in s and s["proc"].poll() is None:
                s["proc"].kill()
        for p in procs:
            p.kill()
        if args.keep_logs:
            print("logs kept in", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
