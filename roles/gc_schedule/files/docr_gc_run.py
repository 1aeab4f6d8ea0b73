# -*- coding: utf-8 -*-
# Copyright: dockyard.docr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dockyard.docr gc_schedule: run retention (when configured) then garbage collection for registries.

    docr-gc-run [--at DOW:HH] [REGISTRY...]   (no REGISTRY: every configured registry)

Deployed by the gc_schedule role as BASE/bin/docr_gc_run.py and started by the small BASE/bin/docr-gc-run
launcher, which passes BASE/etc/config.json. Registries run one after the other in sorted order, each under
its own non-blocking lock (LOCK_DIR/dockyard-docr-gc.REGISTRY.lock, shared by every deployment of the host
that uses the same lock directory): a run that finds the lock held is skipped and logged. The token is
read from the env file (mode 0600) into the environment of ansible-playbook, never put on a command line,
and masked in everything this script writes. One JSON line per registry and run goes to the log file;
Prometheus metrics (batch-job convention) go to the textfile directory, written atomically.

Exit status: 0 when every registry succeeded or was skipped, 1 otherwise, 2 on a usage or configuration error.
Every file it writes is mode 0600, except the metrics (0644: node_exporter reads them; no secret in them).
"""

import fcntl
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

# the registry name rule of plugins/module_utils/_registry.py (NAME_RULE), repeated: this file runs alone
NAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
MASK = "********"
LOCK_HELD = "another run holds the lock"


class ConfigError(Exception):
    """A usage or configuration problem: exit status 2."""


def read_env_file(path):
    """KEY=VALUE words (values shell-quoted, possibly over several lines) as a dict; each value stripped."""
    values = {}
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError("cannot read %s (%s)" % (path, exc.strerror))
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        raise ConfigError("%s is not well quoted" % path)
    for word in words:
        if "=" in word:
            key, value = word.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def masker(secrets):
    """A function that replaces every secret (and its stripped form) in a text."""
    found = sorted(set(s for secret in secrets if secret for s in (secret, secret.strip()) if len(s) >= 4),
                   key=len, reverse=True)

    def mask(text):
        for secret in found:
            text = text.replace(secret, MASK)
        return text

    return mask


def open_private(path, flags):
    """Open ``path`` for writing with mode 0600, whatever the umask; refuse to follow a symlink."""
    fd = os.open(path, flags | os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    os.fchmod(fd, 0o600)
    return fd


def append_line(path, line):
    fd = open_private(path, os.O_APPEND)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def write_atomic(path, text, mode=0o600):
    """Replace ``path`` by a file holding ``text`` (temporary file in the same directory, then rename)."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def at_matches(at, timezone, now=None):
    """True when ``at`` (DOW:HH, 0 = Sunday) is the current weekday and hour in ``timezone``."""
    match = re.match(r"^([0-6]):(\d{1,2})$", at or "")
    if not match:
        raise ConfigError("--at needs DOW:HH (0-6 for Sunday-Saturday, 0-23), got %r" % at)
    saved = os.environ.get("TZ")
    try:
        if timezone:
            os.environ["TZ"] = timezone
            time.tzset()
        local = time.localtime(now if now is not None else time.time())
    finally:
        if timezone:
            if saved is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = saved
            time.tzset()
    weekday = (local.tm_wday + 1) % 7  # tm_wday: 0 = Monday
    return weekday == int(match.group(1)) and local.tm_hour == int(match.group(2))


def last_json_line(path):
    try:
        with open(path) as handle:
            lines = [line for line in handle.read().splitlines() if line.strip()]
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}


def failure_reason(output_path, rc):
    """Why ansible-playbook failed, from its output (the first ERROR! line or the last fatal/failed one)."""
    try:
        with open(output_path) as handle:
            lines = [line.strip() for line in handle.read().splitlines() if line.strip()]
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("ERROR!") or line.startswith("[ERROR]"):
            return line
    for line in reversed(lines):
        if line.startswith(("fatal:", "failed:")) or '"msg":' in line:
            return line[:1000]
    return "ansible-playbook exited with status %s (output in %s)" % (rc, output_path)


def lock(path):
    """An open descriptor holding the lock on ``path``, or None when another run holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (IOError, OSError):
        os.close(fd)
        return None
    return fd


METRICS = [
    # name, type, help
    ("docr_gc_last_run_timestamp_seconds", "gauge", "Unix time at which the last scheduled run ended."),
    ("docr_gc_last_success_timestamp_seconds", "gauge",
     "Unix time at which the last successful scheduled run ended (a GC, or a skip because one ran recently);"
     " kept across failed runs."),
    ("docr_gc_last_run_duration_seconds", "gauge", "Duration of the last scheduled run."),
    ("docr_gc_last_run_exit_status", "gauge", "Exit status of the last scheduled run (0 = success)."),
    ("docr_gc_last_run_skipped", "gauge", "1 when the last scheduled run started no garbage collection."),
    ("docr_gc_last_run_freed_bytes", "gauge", "Bytes freed by the last scheduled run's garbage collection."),
    ("docr_gc_freed_bytes_total", "counter", "Bytes freed by the scheduled garbage collections."),
    ("docr_gc_blobs_deleted_total", "counter", "Blobs deleted by the scheduled garbage collections."),
    ("docr_retention_deleted_total", "counter", "Tags or manifests deleted by the scheduled retention runs."),
    ("docr_gc_runs_total", "counter", "Scheduled runs that ended, by result (success, failure, skipped)."),
]


def metrics_state(previous, line, now):
    """The persisted metric values after ``line``: counters add up, the last success survives a failure."""
    state = dict(previous)
    state["last_run"] = now
    if not line["failed"] and line.get("skip_reason") != LOCK_HELD:  # a run skipped by the lock proves nothing
        state["last_success"] = now
    state["duration"] = line["duration_seconds"]
    state["exit_status"] = line["exit_code"]
    state["skipped"] = 1 if line["skipped"] else 0
    state["last_freed"] = line.get("freed_bytes") or 0
    state["freed_total"] = previous.get("freed_total", 0) + (line.get("freed_bytes") or 0)
    state["blobs_total"] = previous.get("blobs_total", 0) + (line.get("blobs_deleted") or 0)
    state["retention_total"] = previous.get("retention_total", 0) + (line.get("retention_deleted") or 0)
    result = "failure" if line["failed"] else ("skipped" if line["skipped"] else "success")
    runs = dict(previous.get("runs", {}))
    runs[result] = runs.get(result, 0) + 1
    state["runs"] = runs
    return state


def metrics_text(deployment, registry, state):
    labels = 'deployment="%s",registry="%s"' % (deployment, registry)
    values = {
        "docr_gc_last_run_timestamp_seconds": state.get("last_run"),
        "docr_gc_last_success_timestamp_seconds": state.get("last_success"),
        "docr_gc_last_run_duration_seconds": state.get("duration"),
        "docr_gc_last_run_exit_status": state.get("exit_status"),
        "docr_gc_last_run_skipped": state.get("skipped"),
        "docr_gc_last_run_freed_bytes": state.get("last_freed"),
        "docr_gc_freed_bytes_total": state.get("freed_total", 0),
        "docr_gc_blobs_deleted_total": state.get("blobs_total", 0),
        "docr_retention_deleted_total": state.get("retention_total", 0),
    }
    out = []
    for name, kind, help_text in METRICS:
        if name == "docr_gc_runs_total":
            out.append("# HELP %s %s\n# TYPE %s %s\n" % (name, help_text, name, kind))
            for result in ("success", "failure", "skipped"):
                out.append('%s{%s,result="%s"} %d\n' % (name, labels, result, state.get("runs", {}).get(result, 0)))
            continue
        value = values[name]
        if value is None:  # e.g. no success yet: leave the series out rather than claim a time
            continue
        out.append("# HELP %s %s\n# TYPE %s %s\n%s{%s} %s\n" % (name, help_text, name, kind, name, labels, value))
    return "".join(out)


class Runner(object):
    def __init__(self, config, environ=None, stderr=None):
        self.config = config
        self.base = config["base_dir"]
        self.deployment = config["deployment"]
        self.run_dir = os.path.join(self.base, "run")
        self.config_dir = os.path.join(self.base, "etc")
        self.lock_dir = config.get("lock_dir") or self.run_dir
        self.log_file = config["log_file"]
        self.textfile_dir = config.get("textfile_dir") or ""
        self.python = config["python"]
        self.stderr = stderr or sys.stderr
        self.environ = dict(environ if environ is not None else os.environ)
        self.mask = masker([])

    def say(self, text):
        self.stderr.write("docr-gc-run: %s\n" % self.mask(text))
        self.stderr.flush()

    def prepare(self):
        playbook_bin = os.path.join(os.path.dirname(self.python), "ansible-playbook")
        if not os.access(playbook_bin, os.X_OK):
            raise ConfigError("no ansible-playbook next to %s" % self.python)
        secrets = read_env_file(os.path.join(self.config_dir, "token.env"))
        self.mask = masker([v for k, v in secrets.items() if k != "DIGITALOCEAN_API_URL"])
        env = dict(self.environ)
        env.update(secrets)
        if self.config.get("collections_path"):
            env["ANSIBLE_COLLECTIONS_PATH"] = self.config["collections_path"]
        env.update(
            ANSIBLE_HOME=os.path.join(self.run_dir, "ansible"),
            ANSIBLE_LOCAL_TEMP=os.path.join(self.run_dir, "ansible", "tmp"),
            ANSIBLE_RETRY_FILES_ENABLED="false",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_STDOUT_CALLBACK="default",
        )
        # cron's PATH is /usr/bin:/bin: put the interpreter's bin directory first
        env["PATH"] = os.pathsep.join([os.path.dirname(self.python), env.get("PATH") or "/usr/bin:/bin"])
        for directory in (self.run_dir, env["ANSIBLE_LOCAL_TEMP"], os.path.dirname(self.log_file), self.lock_dir):
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
        self.env = env
        self.playbook_bin = playbook_bin

    def playbook(self, name, vars_file, summary, output):
        argv = [self.playbook_bin, "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % self.python,
                "-e", "@%s" % vars_file, "-e", json.dumps({"docr_%s_summary_file" % name: summary}),
                "dockyard.docr.%s" % name]
        fd = open_private(output, os.O_APPEND)
        try:
            return subprocess.call(argv, env=self.env, stdout=fd, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=self.run_dir)
        finally:
            os.close(fd)

    def mask_file(self, path):
        try:
            with open(path) as handle:
                text = handle.read()
        except OSError:
            return
        masked = self.mask(text)
        if masked != text:
            write_atomic(path, masked)

    def run_one(self, name):
        start = time.time()
        lock_fd = lock(os.path.join(self.lock_dir, "dockyard-docr-gc.%s.lock" % name))
        if lock_fd is None:
            return self.finish(name, start, dict(skipped=True, skip_reason=LOCK_HELD, rc=0))
        try:
            return self.run_locked(name, start)
        finally:
            os.close(lock_fd)

    def run_locked(self, name, start):
        gc_summary = os.path.join(self.run_dir, "%s.gc-summary.jsonl" % name)
        ret_summary = os.path.join(self.run_dir, "%s.retention-summary.jsonl" % name)
        output = os.path.join(self.run_dir, "%s.last-run.log" % name)
        for path in (gc_summary, ret_summary):
            if os.path.lexists(path):
                os.unlink(path)
        for path in (gc_summary, ret_summary, output):  # created 0600 before ansible-playbook opens them
            os.close(open_private(path, os.O_TRUNC))
        rc, ret_rc = 0, None
        retention_vars = os.path.join(self.config_dir, "%s.retention.json" % name)
        if os.path.exists(retention_vars):
            ret_rc = self.playbook("retention", retention_vars, ret_summary, output)
        if not ret_rc:
            rc = self.playbook("gc", os.path.join(self.config_dir, "%s.gc.json" % name), gc_summary, output)
        else:
            rc = ret_rc
        for path in (gc_summary, ret_summary, output):
            self.mask_file(path)
        gc, ret = last_json_line(gc_summary), last_json_line(ret_summary)
        msg = gc.get("msg") or ret.get("msg")
        if rc != 0 and not msg:
            msg = ("retention failed: " if ret_rc else "") + failure_reason(output, rc)
        if ret_rc and msg and not msg.startswith("retention"):
            msg = "retention failed: %s" % msg
        return self.finish(name, start, dict(
            rc=rc, status=gc.get("status"), skipped=bool(gc.get("skipped")), skip_reason=gc.get("skip_reason"),
            blobs_deleted=gc.get("blobs_deleted"), freed_bytes=gc.get("freed_bytes"),
            retention_deleted=ret.get("deleted"), retention_freed_bytes_estimate=ret.get("freed_bytes_estimate"),
            msg=msg, output=output))

    def finish(self, name, start, outcome):
        now = time.time()
        rc = outcome["rc"]
        line = dict(
            time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), deployment=self.deployment, registry=name,
            status=outcome.get("status"), skipped=bool(outcome.get("skipped")), skip_reason=outcome.get("skip_reason"),
            blobs_deleted=outcome.get("blobs_deleted"), freed_bytes=outcome.get("freed_bytes"),
            retention_deleted=outcome.get("retention_deleted"),
            retention_freed_bytes_estimate=outcome.get("retention_freed_bytes_estimate"),
            failed=rc != 0, exit_code=rc, duration_seconds=int(round(now - start)), msg=outcome.get("msg"),
        )
        append_line(self.log_file, self.mask(json.dumps(line, sort_keys=True)))
        self.write_metrics(name, line, now)
        if rc != 0:
            # Output only on failure: cron mails it, systemd keeps it in the journal.
            self.say("%s: failed (exit %s): %s" % (name, rc, line["msg"]))
            try:
                with open(outcome["output"]) as handle:
                    self.stderr.write(self.mask(handle.read()))
            except (OSError, KeyError):
                pass
        return line

    def write_metrics(self, name, line, now):
        if not self.textfile_dir:
            return
        state_path = os.path.join(self.run_dir, "%s.metrics.json" % name)
        try:
            with open(state_path) as handle:
                previous = json.load(handle)
        except (OSError, ValueError):
            previous = {}
        state = metrics_state(previous, line, int(now))
        try:
            write_atomic(state_path, json.dumps(state, sort_keys=True))
            target = os.path.join(self.textfile_dir, "docr_gc_%s_%s.prom" % (self.deployment, name))
            write_atomic(target, metrics_text(self.deployment, name, state), mode=0o644)
        except (OSError, IOError) as exc:
            self.say("%s: could not write the metrics to %s (%s)" % (name, self.textfile_dir, exc.strerror or exc))

    def run(self, argv):
        at = None
        if argv[:1] == ["--at"]:
            if len(argv) < 2:
                raise ConfigError("--at needs DOW:HH")
            at, argv = argv[1], argv[2:]
        if at is not None and not at_matches(at, self.config.get("timezone") or ""):
            return 0
        configured = self.config["registries"]
        wanted = argv or configured
        unknown = [name for name in wanted if not NAME.match(name) or name not in configured]
        if unknown:
            raise ConfigError("not a configured registry: %s" % ", ".join(unknown))
        self.prepare()
        status = 0
        # sorted: two runs over overlapping registries meet on the same lock first instead of crossing
        for name in sorted(set(wanted)):
            if self.run_one(name)["failed"]:
                status = 1
        return status


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    os.umask(0o077)
    if len(argv) < 2 or argv[0] != "--config":
        sys.stderr.write("usage: docr_gc_run.py --config FILE [--at DOW:HH] [REGISTRY...]\n")
        return 2
    try:
        with open(argv[1]) as handle:
            config = json.load(handle)
        return Runner(config).run(argv[2:])
    except ConfigError as exc:
        sys.stderr.write("docr-gc-run: %s\n" % exc)
        return 2
    except (OSError, IOError, ValueError, KeyError) as exc:
        sys.stderr.write("docr-gc-run: configuration error: %s\n" % exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
