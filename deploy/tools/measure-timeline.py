#!/usr/bin/env python3
"""Timeline read latency against a running embedded silo (Development key), over one keep-alive connection:
    python3 deploy/tools/measure-timeline.py 5080
Creates a session, reads its timeline 500 times while it is live and 500 times after completion, prints p50/p99/max."""
import http.client, json, sys, time

port=int(sys.argv[1]); H={"Authorization":"Bearer va-local-dev-key","Content-Type":"application/json"}
c=http.client.HTTPConnection("127.0.0.1",port)
c.request("POST","/v1/interviews",json.dumps({"candidateId":"c-bench","jobId":"j"}),H); sid=json.loads(c.getresponse().read())["sessionId"]
def run(n):
    t=[]
    for _ in range(n):
        s=time.perf_counter(); c.request("GET",f"/v1/interviews/{sid}/timeline",headers=H); r=c.getresponse(); b=r.read(); t.append((time.perf_counter()-s)*1000)
        assert r.status==200
    t.sort(); return t[len(t)//2], t[int(len(t)*0.99)], t[-1], len(json.loads(b)["events"])
run(50)
print("during (live session): p50 %.2f ms p99 %.2f ms max %.2f ms events %d" % run(500))
c.request("POST",f"/v1/interviews/{sid}/complete",headers=H); c.getresponse().read()
print("after (completed): p50 %.2f ms p99 %.2f ms max %.2f ms events %d" % run(500))
