"""`vigil top` against a real vigild: one frame (--once), --group, a worker dying, and a live
view under a pseudo-terminal (keys, a change seen without restarting, the terminal given back,
a reconnect after vigild restarts)."""
import fcntl
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import termios
import threading
import time
import unittest

from harness import VIGIL_CLI, SharedVigild, Vigild, free_port, wait_until

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}


def states(frame):
    """{worker_id: state} from the WORKER table of a frame."""
    out, in_workers = {}, False
    for line in frame.splitlines():
        if line.startswith("WORKER "):
            in_workers = True
            continue
        if in_workers:
            if not line.strip():
                break
            cols = line.split()
            out[cols[0]] = cols[2]
    return out


def group_rows(frame):
    """{group: [state, alive/total, suspect, dead, left, evicted]} from the GROUP table."""
    out, in_groups = {}, False
    for line in frame.splitlines():
        if line.startswith("GROUP "):
            in_groups = True
            continue
        if in_groups:
            if not line.strip():
                break
            cols = line.split()
            out[cols[0]] = cols[1:]
    return out


class Pty:
    """vigil top on a pseudo-terminal: stdin, stdout and stderr all the slave side."""

    def __init__(self, args, rows=40, cols=200, ctty=False):
        self.m, self.s = pty.openpty()
        fcntl.ioctl(self.s, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.before = termios.tcgetattr(self.s)
        self.raw = b""
        # ctty: the pty as its controlling terminal, as a login shell's child has it, so
        # that Ctrl-C there is SIGINT (preexec_fn: only where the test runs no threads).
        self.p = subprocess.Popen([VIGIL_CLI, *args], stdin=self.s, stdout=self.s,
                                  stderr=self.s, env=clean_env(), start_new_session=not ctty,
                                  preexec_fn=self._own_tty if ctty else None)

    @staticmethod
    def _own_tty():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    def pump(self, secs=0.1):
        end = time.monotonic() + secs
        while True:
            r, _, _ = select.select([self.m], [], [], max(0.0, end - time.monotonic()))
            if not r:
                return
            self.raw += os.read(self.m, 1 << 16)

    def frames(self):
        """Every complete frame so far (home ... clear to end), ANSI stripped."""
        return [ANSI.sub(b"", f.split(b"\x1b[J")[0]).decode(errors="replace").replace("\r", "")
                for f in self.raw.split(b"\x1b[H")[1:] if b"\x1b[J" in f]

    def wait_frame(self, pred, what, timeout=20):
        def check():
            self.pump()
            fs = self.frames()
            return fs and pred(fs[-1]) and fs[-1]
        return wait_until(check, timeout=timeout, interval=0.01, what=what)

    def send(self, keys):
        os.write(self.m, keys)

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        os.close(self.m)
        os.close(self.s)


class CliTop(SharedVigild):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url = f"http://127.0.0.1:{cls.v.port}"

    def top(self, *args):
        return subprocess.run([VIGIL_CLI, "--url", self.url, "--data", self.v.data_dir, "top",
                               *args], capture_output=True, text=True, timeout=30,
                              env=clean_env())

    def test_once_lists_groups_and_workers(self):
        for w in ("ta-1", "ta-2"):
            self.assertEqual(self.v.beat(w, group="top-a", ttl_s=60, cpu=0.25).status, 200)
        self.assertEqual(self.v.beat("tb-1", group="top-b", ttl_s=60).status, 200)
        self.assertEqual(self.v.beat("tb-2", group="top-b", ttl_s=60).status, 200)
        self.assertEqual(self.v.bye("tb-2").status, 200)
        wait_until(lambda: self.v.worker("tb-2")["state"] == "left", what="tb-2 left")
        r = self.top("--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        st = states(r.stdout)
        self.assertEqual((st["ta-1"], st["ta-2"], st["tb-1"], st["tb-2"]),
                         ("alive", "alive", "alive", "left"))
        g = group_rows(r.stdout)
        self.assertEqual(g["top-a"][:2], ["alive", "2/2"])
        self.assertEqual(g["top-b"][1], "1/2")
        self.assertEqual(g["top-b"][4], "1")  # LEFT
        self.assertIn("25%", next(x for x in r.stdout.splitlines() if x.startswith("ta-1 ")))
        # Listed by state, then id: the left worker after the alive ones.
        order = [w for w in st if w.startswith(("ta-", "tb-"))]
        self.assertEqual(order, ["ta-1", "ta-2", "tb-1", "tb-2"])
        # Not a terminal: one frame and exit, as --once; no escapes in it.
        r2 = self.top()
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.assertNotIn("\x1b", r2.stdout)
        self.assertEqual(states(r2.stdout)["tb-2"], "left")

    def test_group_filter(self):
        self.v.beat("tg-1", group="top-g", ttl_s=60)
        self.v.beat("tg-2", group="top-h", ttl_s=60)
        r = self.top("--once", "--group", "top-g")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("tg-1", states(r.stdout))
        self.assertNotIn("tg-2", r.stdout)
        self.assertEqual(list(group_rows(r.stdout)), ["top-g"])

    def test_dead_worker_in_a_later_frame(self):
        self.v.beat("td-1", group="top-d", ttl_s=3)
        r = self.top("--once", "--group", "top-d")
        self.assertEqual(states(r.stdout).get("td-1"), "alive", r.stdout)
        wait_until(lambda: self.v.worker("td-1")["state"] == "dead", timeout=20, what="td-1 dead")
        r = self.top("--once", "--group", "top-d")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(states(r.stdout)["td-1"], "dead")
        self.assertEqual(group_rows(r.stdout)["top-d"][1], "0/1")

    def test_exit_codes(self):
        r = self.top("--once", "--follow")
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([VIGIL_CLI, "--url", self.url, "--data", "/nonexistent", "top"],
                           capture_output=True, text=True, timeout=30, env=clean_env())
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("401", r.stderr)
        r = subprocess.run([VIGIL_CLI, "--url", f"http://127.0.0.1:{free_port()}", "--token",
                            "x", "top", "--once"], capture_output=True, text=True, timeout=30,
                           env=clean_env())
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_follow_on_a_terminal(self):
        self.v.beat("tf-1", group="top-f", ttl_s=3)
        self.v.beat("tf-2", group="top-f", ttl_s=120)
        t = Pty(["--url", self.url, "--data", self.v.data_dir, "top", "--group", "top-f"])
        try:
            t.wait_frame(lambda f: states(f).get("tf-1") == "alive", "tf-1 alive")
            t0 = time.monotonic()
            # The same process, still running, sees it die.
            t.wait_frame(lambda f: states(f).get("tf-1") == "dead", "tf-1 dead on the screen")
            self.assertIsNone(t.p.poll())
            self.assertLess(time.monotonic() - t0, 20)
            # `/` filters (Enter applies), `g` shows the groups alone, Esc clears.
            t.send(b"/tf-2\r")
            f = t.wait_frame(lambda f: "filter: tf-2" in f, "filter applied")
            self.assertEqual(list(states(f)), ["tf-2"])
            t.send(b"g")
            f = t.wait_frame(lambda f: "WORKER" not in f, "groups only")
            self.assertIn("top-f", group_rows(f))
            t.send(b"g\x1b")
            f = t.wait_frame(lambda f: "WORKER" in f and "filter:" not in f, "filter cleared")
            self.assertEqual(set(states(f)), {"tf-1", "tf-2"})
            t.send(b"q")
            self.assertEqual(t.p.wait(timeout=10), 0)
            t.pump()
            # The terminal is given back as it was found.
            self.assertEqual(termios.tcgetattr(t.s), t.before)
            self.assertTrue(t.raw.endswith(b"\x1b[?7h\x1b[?25h\x1b[?1049l"), t.raw[-80:])
        finally:
            t.close()

    def test_signals_give_the_terminal_back(self):
        self.v.beat("ts-1", group="top-s", ttl_s=60)
        for keys, sig in ((b"\x03", signal.SIGINT), (None, signal.SIGTERM)):
            t = Pty(["--url", self.url, "--data", self.v.data_dir, "top", "--group", "top-s"],
                    ctty=True)
            try:
                t.wait_frame(lambda f: "ts-1" in states(f), "ts-1 shown")
                self.assertNotEqual(termios.tcgetattr(t.s), t.before)  # raw while it runs
                if keys:
                    t.send(keys)  # Ctrl-C on its controlling terminal
                else:
                    t.p.send_signal(sig)
                # It dies of the signal, as the shell expects, after restoring the terminal.
                self.assertEqual(t.p.wait(timeout=10), -sig)
                t.pump()
                self.assertEqual(termios.tcgetattr(t.s), t.before)
                self.assertTrue(t.raw.endswith(b"\x1b[?7h\x1b[?25h\x1b[?1049l"), t.raw[-80:])
            finally:
                t.close()


class CuttingProxy:
    """A TCP proxy in front of vigild that keeps each request's head and what the server sent
    back, and can cut the current connection, as a flaky network would."""

    def __init__(self, port):
        self.upstream = port
        self.heads, self.down = [], []  # per connection: request head, bytes sent back
        self.conns = []
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        head = b""
        while b"\r\n\r\n" not in head:
            b = c.recv(4096)
            if not b:
                return
            head += b
        u = socket.create_connection(("127.0.0.1", self.upstream))
        idx = len(self.heads)
        self.heads.append(head.decode(errors="replace"))
        self.down.append(b"")
        self.conns.append((c, u))
        u.sendall(head)
        while True:
            try:
                b = u.recv(1 << 16)
            except OSError:
                break
            if not b:
                break
            self.down[idx] += b
            try:
                c.sendall(b)
            except OSError:
                break

    def cut(self):
        for c, u in self.conns:
            for x in (c, u):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                x.close()
        self.conns = []

    def close(self):
        self.cut()
        self.lsock.close()


def last_complete_id(raw):
    """The id of the last message the bytes hold whole (the stream is chunked: strip sizes)."""
    text = raw.split(b"\r\n\r\n", 1)[1].decode(errors="replace")
    last = None
    for msg in re.split(r"\r?\n\r?\n", text)[:-1]:
        for line in msg.splitlines():
            if line.startswith("id: "):
                last = line[4:].strip()
    return last


class CliTopReconnect(unittest.TestCase):
    def test_resumes_with_last_event_id(self):
        v = Vigild().start()
        proxy, t = CuttingProxy(v.port), None
        try:
            v.beat("tl-1", group="top-l", ttl_s=300)
            t = Pty(["--url", f"http://127.0.0.1:{proxy.port}", "--data", v.data_dir, "top"])
            t.wait_frame(lambda f: "tl-1" in states(f), "tl-1 shown")
            wait_until(lambda: b"event: summary" in proxy.down[0], what="a summary after it")
            proxy.cut()
            wait_until(lambda: len(proxy.heads) == 2, what="a second connection")
            m = re.search(r"(?im)^last-event-id: (\S+)\r$", proxy.heads[1])
            self.assertIsNotNone(m, proxy.heads[1])
            self.assertNotIn("last-event-id", proxy.heads[0].lower())
            # Not necessarily the very last id sent: one cut off mid-message does not count.
            sent = re.findall(r"(?m)^id: (\S+)$", proxy.down[0].decode(errors="replace"))
            self.assertIn(m.group(1), sent)
            self.assertEqual(m.group(1), last_complete_id(proxy.down[0]))
            # The server resumes after that id: changes only, no second snapshot, and the
            # view keeps up from them.
            v.beat("tl-2", group="top-l", ttl_s=300)
            t.wait_frame(lambda f: "tl-2" in states(f) and "reconnecting" not in f,
                         "tl-2 after the cut")
            self.assertNotIn(b"event: snapshot", proxy.down[1])
            t.send(b"q")
            self.assertEqual(t.p.wait(timeout=10), 0)
        finally:
            if t:
                t.close()
            proxy.close()
            v.cleanup()

    def test_resumes_after_a_restart(self):
        v = Vigild().start()
        t = None
        try:
            v.beat("tr-1", group="top-r", ttl_s=300)
            url = f"http://127.0.0.1:{v.port}"
            t = Pty(["--url", url, "--data", v.data_dir, "top"])
            t.wait_frame(lambda f: "tr-1" in states(f), "tr-1 shown")
            v.kill()
            t.wait_frame(lambda f: "reconnecting" in f, "reconnecting shown")
            v.start(port=v.port)
            v.beat("tr-2", group="top-r", ttl_s=300)
            f = t.wait_frame(lambda f: "tr-2" in states(f), "tr-2 after the restart", timeout=30)
            self.assertNotIn("reconnecting", f)
            self.assertIn("tr-1", states(f))
            t.send(b"q")
            self.assertEqual(t.p.wait(timeout=10), 0)
        finally:
            if t:
                t.close()
            v.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
