#!/usr/bin/env python3
"""Slow clients, idle clients and a header flood against a real `hotline serve`, directly or
through nginx (deploy/nginx-hotline.conf, as tests/test_proxy.cpp runs it). Prints what
docs/performance.md ("Exposed to slow clients") reports: webhook latency while the attack runs,
peak memory (VmHWM) under the header flood and resident memory after it, and how long SIGTERM
takes while slow clients trickle.

  bench/exposure.py [--binary build/bin/hotline] [--proxy] [--only NAME]

The server runs in local mode (no signatures) on a temporary SQLite file. Not a test: figures.
"""
import argparse, os, selectors, signal, socket, statistics, subprocess, sys, tempfile, threading, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, seconds=30):
    until = time.time() + seconds
    while time.time() < until:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


class Attack(threading.Thread):
    """`count` connections from 127.0.0.2, each reopened when the server closes it. 'trickle'
    sends a request line, then one header line every `every` seconds; 'idle' sends nothing."""

    def __init__(self, port, count, kind, every=4.0):
        super().__init__(daemon=True)
        self.port, self.count, self.kind, self.every = port, count, kind, every
        self.stop_flag = threading.Event()
        self.reopened = 0

    def open_one(self, sel):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.bind(("127.0.0.2", 0))
        except OSError:
            pass
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            return
        sel.register(s, selectors.EVENT_READ, {"next": time.time(), "started": False})

    def run(self):
        sel = selectors.DefaultSelector()
        for _ in range(self.count):
            self.open_one(sel)
        while not self.stop_flag.is_set():
            for key, _ in sel.select(timeout=0.2):
                try:
                    data = key.fileobj.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:  # closed by the server: open another
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    self.reopened += 1
                    self.open_one(sel)
            if self.kind != "trickle":
                continue
            now = time.time()
            for key in list(sel.get_map().values()):
                state = key.data
                if now < state["next"]:
                    continue
                line = b"X-Slow: 1\r\n" if state["started"] else b"POST /twilio/sms HTTP/1.1\r\nHost: x\r\n"
                try:
                    key.fileobj.send(line)
                    state["started"] = True
                except OSError:
                    pass
                state["next"] = now + self.every
        for key in list(sel.get_map().values()):
            key.fileobj.close()


def webhook(port, n, timeout=20.0):
    body = f"From=%2B1414555{n:04d}&MessageSid=SMbench{n}&Body=hola".encode()
    req = (b"POST /twilio/sms HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    start = time.time()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.settimeout(timeout)
        s.sendall(req)
        answer = s.recv(4096)
        s.close()
    except OSError:
        return None, "no answer"
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "?"
    return time.time() - start, status


def latencies(port, count=10, gap=0.5):
    out = []
    for i in range(count):
        seconds, status = webhook(port, int(time.time() * 1000) % 10000 + i)
        out.append((seconds, status))
        time.sleep(gap)
    answered = [s for s, st in out if s is not None and st == "200"]
    lost = len(out) - len(answered)
    if not answered:
        return f"none of {count} answered 200"
    return (f"median {statistics.median(answered) * 1000:.0f} ms, max {max(answered) * 1000:.0f} ms"
            + (f", {lost} of {count} not answered 200" if lost else ""))


def mem(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) // 1024
    return -1


def header_flood(port, connections=2, megabytes=60):
    def one():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"POST /twilio/sms HTTP/1.1\r\nHost: x\r\n")
            line = b"X-Flood: " + b"a" * 8000 + b"\r\n"
            for _ in range(megabytes * 1024 * 1024 // len(line)):
                s.sendall(line)
            s.sendall(b"\r\n")
            s.recv(100)
            s.close()
        except OSError:
            pass
    threads = [threading.Thread(target=one) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class Target:
    def __init__(self, binary, proxy):
        self.dir = tempfile.mkdtemp(prefix="hotline-exposure.")
        self.port = free_port()
        env = dict(os.environ, HOTLINE_DB=os.path.join(self.dir, "hotline.sqlite3"))
        for k in ("TWILIO_AUTH_TOKEN", "HOTLINE_ADMIN_TOKEN"):
            env.pop(k, None)
        self.server = subprocess.Popen([binary, "serve", "--port", str(self.port), "--root", REPO], env=env,
                                       stderr=open(os.path.join(self.dir, "server.log"), "w"))
        wait_port(self.port)
        self.entry = self.port
        self.nginx = None
        if proxy:
            self.entry = free_port()
            conf = os.path.join(self.dir, "nginx.conf")
            for d in ("logs", "tmp"):
                os.makedirs(os.path.join(self.dir, d), exist_ok=True)
            with open(conf, "w") as f:
                f.write(nginx_config(self.dir, self.entry, self.port))
            self.nginx = subprocess.Popen(["/usr/sbin/nginx", "-p", self.dir, "-c", conf, "-g", "daemon off;"])
            wait_port(self.entry)

    def close(self):
        if self.nginx:
            self.nginx.send_signal(signal.SIGQUIT)
            self.nginx.wait()
        if self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait()


NGINX_INCLUDE = os.path.join(REPO, "deploy/nginx-hotline.conf")


def nginx_config(prefix, listen, upstream):
    root_user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{root_user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  client_body_temp_path {prefix}/tmp/body;
  proxy_temp_path {prefix}/tmp/proxy;
  fastcgi_temp_path {prefix}/tmp/fastcgi;
  uwsgi_temp_path {prefix}/tmp/uwsgi;
  scgi_temp_path {prefix}/tmp/scgi;
  limit_conn_zone $binary_remote_addr zone=hotline_per_client:1m;
  upstream hotline {{ server 127.0.0.1:{upstream}; keepalive 16; keepalive_timeout 2s; }}
  server {{
    listen 127.0.0.1:{listen};
    include {NGINX_INCLUDE};
  }}
}}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(REPO, "build/bin/hotline"))
    ap.add_argument("--proxy", action="store_true", help="through nginx, as the supported deployment")
    ap.add_argument("--only", help="one of: slow32 slow300 idle300 flood sigterm")
    ap.add_argument("--nginx-include", default=os.path.join(REPO, "deploy/nginx-hotline.conf"),
                    help="the server block nginx includes (e.g. an older one, for a before figure)")
    a = ap.parse_args()
    global NGINX_INCLUDE
    NGINX_INCLUDE = os.path.abspath(a.nginx_include)
    where = "through nginx" if a.proxy else "direct"

    def want(name):
        return a.only in (None, name)

    for name, count, kind in (("slow32", 32, "trickle"), ("slow300", 300, "trickle"), ("idle300", 300, "idle")):
        if not want(name):
            continue
        t = Target(a.binary, a.proxy)
        try:
            print(f"{where}, no attack: {latencies(t.entry, 5)}", flush=True) if name == "slow32" else None
            attack = Attack(t.entry, count, kind)
            attack.start()
            time.sleep(3)
            print(f"{where}, {count} {kind} clients: webhooks {latencies(t.entry, 5)}", flush=True)
            attack.stop_flag.set()
            attack.join()
        finally:
            t.close()
    if want("flood"):
        t = Target(a.binary, a.proxy)
        try:
            pid = t.server.pid
            before = mem(pid, "VmRSS")
            header_flood(t.entry)
            time.sleep(2)
            print(f"{where}, header flood (2 connections x 60 MB of 8 kB header lines): server RSS "
                  f"{before} MB before, peak {mem(pid, 'VmHWM')} MB, {mem(pid, 'VmRSS')} MB 2 s after; "
                  f"webhooks after: {latencies(t.entry, 3)}", flush=True)
        finally:
            t.close()
    if want("sigterm"):
        t = Target(a.binary, False)
        try:
            attack = Attack(t.port, 32, "trickle")
            attack.start()
            time.sleep(3)
            start = time.time()
            t.server.send_signal(signal.SIGTERM)
            try:
                t.server.wait(timeout=30)
                print(f"direct, SIGTERM with 32 trickling clients: exited {t.server.returncode} after "
                      f"{time.time() - start:.1f} s", flush=True)
                attack.stop_flag.set()
            except subprocess.TimeoutExpired:
                attack.stop_flag.set()
                attack.join()
                stopped = time.time()
                t.server.wait()
                print(f"direct, SIGTERM with 32 trickling clients: still running after 30 s; exited "
                      f"{t.server.returncode} {time.time() - stopped:.1f} s after the clients stopped", flush=True)
            attack.join()
        finally:
            t.close()


if __name__ == "__main__":
    main()
