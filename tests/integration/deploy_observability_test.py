#!/usr/bin/env python3
"""deploy/prometheus and deploy/grafana: promtool accepts the config and the rules, every alert
fires in its scenario (and none on a healthy program), and every query of the rules and of the
Grafana dashboards names metric families, labels and label values that a real
cloudlink-dataplane (or cloudlink-control) serves. Each dashboard's queries are also evaluated by
promtool over series built from that scrape: a query that returns nothing would be an empty
panel."""
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import unittest

import control_api
import harness as h

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONFIG = os.path.join(ROOT, "deploy", "prometheus", "prometheus.yml")
RULES = os.path.join(ROOT, "deploy", "prometheus", "cloudlink.rules.yml")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "cloudlink-dataplane.json")
CONTROL_RULES = os.path.join(ROOT, "deploy", "prometheus", "cloudlink-control.rules.yml")
CONTROL_DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "cloudlink-control.json")
# Each scrape job with its rules and its dashboard: their queries name that job only.
JOBS = {"cloudlink-dataplane": (RULES, DASHBOARD),
        "cloudlink-control": (CONTROL_RULES, CONTROL_DASHBOARD)}

# Labels Prometheus attaches to every scraped series; the dataplane never exposes them.
TARGET_LABELS = {"job", "instance"}
# What the dashboard's Grafana variables stand for when promtool evaluates its queries.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$instance": ".*"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

_SELECTOR = re.compile(r'(?<![\w:"])(cloudlink_[a-zA-Z0-9_]+)\s*(?:\{([^}]*)\})?')
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_GROUPING = re.compile(r'\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)')
_LABEL_VALUES = re.compile(r'^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$')
_RATE_BEFORE = re.compile(r'\b(?:rate|irate|increase)\(\s*$')


def promtool(*args):
    return h.run(["promtool", *args], timeout=60)


# ---- what the deploy files ask for ----

def dashboard_queries(dashboard):
    """(where, PromQL, is_panel) for every panel target (rows nested or not), then the series
    selector of every label_values() query variable (is_panel False)."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f"panel {p.get('title')!r} {t.get('refId')}", t["expr"], True))
            walk(p.get("panels", []))

    walk(dashboard.get("panels", []))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = _LABEL_VALUES.match(query)
        out.append((f"variable {var['name']!r}", m.group(1) if m else query, False))
    return out


def rule_exprs(text):
    """(alert name, PromQL) for each rule; reads `expr:` as one line or as a `|` block."""
    out, alert, lines = [], None, text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s*- (?:alert|record): (\S+)", line)
        if m:
            alert = m.group(1)
        m = re.match(r"(\s*)expr: (.*)$", line)
        if not m:
            continue
        if m.group(2).strip() not in ("|", ">"):
            out.append((alert, m.group(2)))
            continue
        indent, body = len(m.group(1)), []
        for following in lines[i + 1:]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following.strip())
        out.append((alert, " ".join(body).strip()))
    return out


def substitute(expr):
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    return expr


# ---- what the dataplane serves ----

class Scrape:
    """One /metrics text: types by family and, by sample name, label -> values seen."""

    def __init__(self, text):
        self.text = text
        self.samples = h.parse_metrics(text)
        self.types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
        self.labels = {}
        for name, labels in self.samples:
            seen = self.labels.setdefault(name, {})
            for label, value in labels:
                seen.setdefault(label, set()).add(value)

    def family(self, name):
        """(family, type) of a sample name, or (None, None) if the dataplane has no such."""
        if name in self.types:
            return name, self.types[name]
        for suffix in HISTOGRAM_SUFFIXES:
            base = name[:-len(suffix)]
            if name.endswith(suffix) and self.types.get(base) in ("histogram", "summary"):
                return base, self.types[base]
        return None, None


def check_expr(scrape, where, expr, lint_rates=True):
    """Every problem of one PromQL expression against a scrape, as a list of sentences.
    lint_rates: counters must sit in rate()/increase() and gauges must not (not so for the
    bare selector of a label_values() variable)."""
    problems = []
    names = set()
    for m in _SELECTOR.finditer(expr):
        name, matchers = m.group(1), m.group(2) or ""
        family, kind = scrape.family(name)
        if family is None or name not in scrape.labels:
            problems.append(f"{where}: no metric {name} in /metrics")
            continue
        names.add(name)
        in_rate = bool(_RATE_BEFORE.search(expr[:m.start()]))
        if not lint_rates:
            pass
        elif kind == "counter" or name.endswith(HISTOGRAM_SUFFIXES):
            if not in_rate:
                problems.append(f"{where}: counter {name} used without rate()/increase()")
        elif in_rate:
            problems.append(f"{where}: rate() over the {kind} {name}")
        known = scrape.labels[name]
        for label, op, value in _MATCHER.findall(matchers):
            if label in TARGET_LABELS:
                continue
            if label not in known:
                problems.append(f"{where}: {name} has no label {label} (has {sorted(known)})")
            elif "$" not in value and op in ("=", "=~") and re.fullmatch(r"[\w|]+", value):
                for v in value.split("|"):
                    if v not in known[label]:
                        problems.append(f"{where}: {name}{{{label}}} never is {v!r} "
                                        f"(is one of {sorted(known[label])})")
    for group in _GROUPING.findall(expr):
        for label in filter(None, (g.strip() for g in group.split(","))):
            for name in names:
                if label not in TARGET_LABELS and label not in scrape.labels[name]:
                    problems.append(f"{where}: grouping by {label}, which {name} does not have")
    if "histogram_quantile" in expr and not re.search(r"\bby\s*\([^)]*\ble\b", expr):
        problems.append(f"{where}: histogram_quantile without keeping le")
    return problems


def series_notation(value, kind):
    """promtool series values: counters grow by their scraped value each step, gauges stay."""
    v = f"{value:.9f}".rstrip("0").rstrip(".")
    return f"{v}x80" if kind == "gauge" else f"0+{v}x80"


def run_rule_tests(testcase, groups, rule_files=()):
    """Runs promtool test rules on a file made of groups (JSON is YAML); fails with its output."""
    doc = {"rule_files": list(rule_files), "evaluation_interval": "15s", "tests": groups}
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="cloudlink-rules-test.",
                                     delete=False) as f:
        json.dump(doc, f, indent=1)
    testcase.addCleanup(os.unlink, f.name)
    r = promtool("test", "rules", f.name)
    testcase.assertEqual(r.returncode, 0, f"promtool test rules:\n{r.stdout}{r.stderr}")


def run_alert_scenarios(testcase, scenarios, alerts, instance, rules):
    """Each (alert or None, input series[, eval time]) evaluated by promtool against rules:
    exactly that alert is firing for instance at the eval time (20 minutes unless given; none
    for None). Every alert needs one."""
    testcase.assertEqual(sorted(a for a, *_ in scenarios if a), sorted(alerts),
                         "every alert needs a scenario here")
    firing = 'count by (alertname, instance) (ALERTS{alertstate="firing"})'
    groups = []
    for i, (alert, series, *when) in enumerate(scenarios):
        expected = [] if alert is None else [
            {"labels": f'{{alertname="{alert}",instance="{instance}"}}', "value": 1}]
        groups.append({"name": alert or f"no alert ({i})", "interval": "15s",
                       "input_series": series,
                       "promql_expr_test": [{"expr": firing,
                                             "eval_time": when[0] if when else "20m",
                                             "exp_samples": expected}]})
    run_rule_tests(testcase, groups, [rules])


class PromtoolTest(unittest.TestCase):
    def test_config_and_rules_pass_promtool(self):
        r = promtool("check", "config", CONFIG)
        self.assertEqual(r.returncode, 0, f"promtool check config:\n{r.stdout}{r.stderr}")
        self.assertIn("2 rule files found", r.stdout + r.stderr)
        for rules in (RULES, CONTROL_RULES):
            r = promtool("check", "rules", "--lint=all", "--lint-fatal", rules)
            self.assertEqual(r.returncode, 0, f"promtool check rules:\n{r.stdout}{r.stderr}")

    def test_scrape_config_matches_the_queries(self):
        with open(CONFIG) as f:
            config = f.read()
        self.assertEqual(re.findall(r"job_name:\s*(\S+)", config),
                         ["cloudlink-dataplane", "cloudlink-control"])
        self.assertIn("scrape_interval: 15s", config)
        self.assertIn("127.0.0.1:9477", config)  # the dataplane's --metrics in the README
        # cloudlink-control serve --metrics-listen in the README's production layout
        self.assertIn("127.0.0.1:9478", config)
        for job, (rules, dashboard) in JOBS.items():
            with open(rules) as f, open(dashboard) as g:
                queries = f.read() + g.read()
            named = re.findall(r'job\s*=~?\s*\\?"([^"\\]*)', queries)
            self.assertIn(job, named)
            for other in named:
                self.assertEqual(other, job, f"a query of {rules} or {dashboard} names another job")

    def test_dashboard_queries_parse(self):
        """Each dashboard query, variables substituted, is valid PromQL (as a recording rule)."""
        queries = []
        for dashboard in (DASHBOARD, CONTROL_DASHBOARD):
            with open(dashboard) as f:
                queries += dashboard_queries(json.load(f))
        rules = [{"record": f"cloudlink:dashboard_query_{i}", "expr": substitute(expr)}
                 for i, (_, expr, _) in enumerate(queries)]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        self.addCleanup(os.unlink, f.name)
        r = promtool("check", "rules", f.name)
        self.assertEqual(r.returncode, 0, f"promtool check rules:\n{r.stdout}{r.stderr}")

    def test_each_alert_fires_in_its_scenario(self):
        with open(RULES) as f:
            alerts = re.findall(r"^\s*- alert: (\S+)", f.read(), re.M)
        job = 'job="cloudlink-dataplane",instance="dp"'

        def counter(name, per_step, **labels):
            extra = "".join(f',{k}="{v}"' for k, v in labels.items())
            return {"series": f"{name}{{{job}{extra}}}", "values": f"0+{per_step}x80"}

        def rejected(reason, per_step):
            return counter("cloudlink_connections_rejected_total", per_step, reason=reason)

        up = {"series": f"up{{{job}}}", "values": "1x80"}
        busy = counter("cloudlink_connections_accepted_total", 60)  # 4/s at a 15s step
        # (the one alert expected, or None; input series). The two None cases: a busy healthy
        # dataplane, and an idle one whose few connections all fail their hello (below the
        # alert's 1 accept/s floor).
        scenarios = [
            (None, [up, busy, rejected("unknown_sni", 6), rejected("hello_timeout", 3)]),
            (None, [up, counter("cloudlink_connections_accepted_total", 3),
                    rejected("not_tls", 3)]),
            ("CloudlinkDataplaneDown", [{"series": f"up{{{job}}}", "values": "0x80"}]),
            ("CloudlinkTargetsDown", [up, busy, rejected("targets_down", 1)]),
            ("CloudlinkHelloFailuresHigh", [up, busy, rejected("hello_timeout", 20),
                                            rejected("bad_hello", 10)]),
            ("CloudlinkOverConnectionLimit", [up, busy, rejected("over_limit", 5)]),
            ("CloudlinkRouteTableError", [up, busy, rejected("route_error", 1)]),
        ]
        run_alert_scenarios(self, scenarios, alerts, "dp", RULES)


    def test_each_control_alert_fires_in_its_scenario(self):
        with open(CONTROL_RULES) as f:
            alerts = re.findall(r"^\s*- alert: (\S+)", f.read(), re.M)
        job = 'job="cloudlink-control",instance="cp"'

        def requests(per_step, route="/api/homes", status="200"):
            return {"series": f'cloudlink_control_http_requests_total{{{job},route="{route}",'
                              f'method="GET",status="{status}"}}',
                    "values": f"0+{per_step}x80"}

        def latency(route, le_counts):
            """Histogram series growing each step by le_counts (cumulative, per bucket)."""
            return [{"series": f'cloudlink_control_http_request_duration_seconds_bucket{{{job},'
                               f'route="{route}",le="{le}"}}', "values": f"0+{n}x80"}
                    for le, n in le_counts]

        def storage(env, used, max_bytes):
            return [{"series": f'cloudlink_control_lmdb_used_bytes{{{job},env="{env}"}}',
                     "values": f"{used}x80"},
                    {"series": f'cloudlink_control_lmdb_map_max_bytes{{{job},env="{env}"}}',
                     "values": f"{max_bytes}x80"}]

        def in_step(value):
            return {"series": f"cloudlink_control_routes_in_step{{{job}}}",
                    "values": f"{value}x80"}

        def certificates(own, home, steps=80):
            """control's own certificate and one home's, notAfter as given (unix seconds; the
            rule tests start at time 0)."""
            return [{"series": f'cloudlink_control_certificate_expiry_timestamp_seconds{{{job},'
                               f'hostname="vps.example.net"}}', "values": f"{own}x{steps}"},
                    {"series": f'cloudlink_control_home_certificate_expiry_timestamp_seconds'
                               f'{{{job},hostname="app.example.com",home="0123456789abcdef"}}',
                     "values": f"{home}x{steps}"}]

        day = 86400
        long_up = {"series": f"up{{{job}}}", "values": "1x2000"}  # 8 h 20 min at 15 s
        up = {"series": f"up{{{job}}}", "values": "1x80"}
        fast = latency("/api/homes", [("0.01", 30), ("1.0", 30), ("2.5", 30), ("+Inf", 30)])
        slow = latency("/api/homes", [("0.01", 0), ("1.0", 0), ("2.5", 30), ("+Inf", 30)])
        slow_login = latency("/api/login", [("0.01", 0), ("1.0", 0), ("2.5", 3), ("+Inf", 3)])
        scenarios = [
            # healthy: busy, a few 4xx and refused logins, logins slow on purpose
            (None, [up, requests(30), requests(2, status="404"),
                    requests(1, "/api/login", "401"), *fast, *slow_login]),
            ("CloudlinkControlDown", [{"series": f"up{{{job}}}", "values": "0x80"}]),
            ("CloudlinkControlServerErrors", [up, requests(30), requests(3, status="500")]),
            ("CloudlinkControlLoginsRefused", [up, requests(30, "/api/login", "401"),
                                               requests(30, "/api/login", "429")]),
            ("CloudlinkControlSlow", [up, requests(30), *slow]),
            ("CloudlinkControlStorageNearlyFull", [up, requests(30),
                                                   *storage("state", 900, 1000),
                                                   *storage("routes", 10, 1000)]),
            ("CloudlinkControlRoutesOutOfStep", [up, requests(30), in_step(0)]),
            # certificates: healthy for hours; 10 days left (renewals failing); expired; a
            # placeholder for hours. Alerts with `for: 1h` or more are judged later.
            (None, [long_up, *certificates(60 * day, 60 * day, 2000)], "8h"),
            ("CloudlinkControlCertificateExpiring",
             [long_up, *certificates(10 * day, 60 * day, 2000)], "2h"),
            ("CloudlinkControlCertificateExpired", [up, *certificates(600, 60 * day)]),
            ("CloudlinkControlCertificateNotIssued",
             [long_up, *certificates(0, 60 * day, 2000)], "8h"),
            ("CloudlinkHomeCertificateExpiring",
             [long_up, *certificates(60 * day, 10 * day, 2000)], "2h"),
            ("CloudlinkHomeCertificateExpired", [up, *certificates(60 * day, 600)]),
        ]
        # healthy storage: maps well under their maximum, routes in step
        scenarios[0][1].extend([*storage("state", 100, 1000), *storage("routes", 10, 1000),
                                in_step(1), *certificates(60 * day, 60 * day)])
        run_alert_scenarios(self, scenarios, alerts, "cp", CONTROL_RULES)


class ServedQueriesChecks:
    """Checks of one job's dashboard and rules against a scrape of the real program; the
    subclass sets job, instance, rules, dashboard and scrape in setUpClass."""

    def test_dashboard_queries_use_served_metrics_and_labels(self):
        queries = dashboard_queries(self.dashboard)
        self.assertGreaterEqual(len(queries), self.min_queries)
        problems = [p for where, expr, is_panel in queries
                    for p in check_expr(self.scrape, where, expr, lint_rates=is_panel)]
        self.assertEqual(problems, [])
        used = {m.group(1) for _, expr, _ in queries for m in _SELECTOR.finditer(expr)}
        unused = {f for f in self.scrape.types if f.startswith("cloudlink_")} - {
            self.scrape.family(n)[0] for n in used}
        self.assertEqual(unused, set(), "metric families the dashboard does not show")

    def test_rule_queries_use_served_metrics_and_labels(self):
        with open(self.rules) as f:
            exprs = rule_exprs(f.read())
        with open(self.rules) as f:
            self.assertEqual(len(exprs), f.read().count("expr:"))
        problems = [p for where, expr in exprs for p in check_expr(self.scrape, where, expr)]
        self.assertEqual(problems, [])

    def test_dashboard_panels_show_data(self):
        """promtool evaluates every query over series made from the scrape (as if Prometheus had
        scraped the program for 20 minutes under steady traffic): none may come back empty."""
        target = [("job", self.job), ("instance", self.instance)]
        series = [{"series": f'up{{job="{self.job}",instance="{self.instance}"}}',
                   "values": "1x80"}]
        for (name, labels), value in sorted(self.scrape.samples.items()):
            if not (name.startswith("cloudlink_") or name == "process_start_time_seconds"):
                continue
            text = ",".join(f'{k}="{v}"' for k, v in [*target, *labels])
            kind = self.scrape.family(name)[1]
            # Counters grow by at least 1 a step so that every rate, ratio and quantile has a value.
            series.append({"series": f"{name}{{{text}}}",
                           "values": series_notation(max(value, 1) if kind != "gauge" else value,
                                                     kind)})
        tests = [{"expr": f"count({substitute(expr)}) > bool 0", "eval_time": "20m",
                  "exp_samples": [{"labels": "{}", "value": 1}]}
                 for _, expr, _ in dashboard_queries(self.dashboard)]
        run_rule_tests(self, [{"name": "dashboard", "interval": "15s", "input_series": series,
                               "promql_expr_test": tests}])

    def test_dashboard_shape(self):
        d = self.dashboard
        self.assertGreaterEqual(d["schemaVersion"], 37)
        variables = {v["name"]: v for v in d["templating"]["list"]}
        self.assertEqual(variables["DS_PROMETHEUS"]["type"], "datasource")
        self.assertEqual(variables["DS_PROMETHEUS"]["query"], "prometheus")
        self.assertIn("instance", variables)
        panels = [p for p in d["panels"] if p["type"] != "row"]
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")
        for p in panels:
            for ds in [p.get("datasource")] + [t.get("datasource") for t in p["targets"]]:
                self.assertEqual(ds, {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, p["title"])
            for t in p["targets"]:
                if "cloudlink_" in t["expr"]:
                    self.assertIn('instance=~"$instance"', t["expr"], p["title"])


class AgainstDataplaneTest(ServedQueriesChecks, unittest.TestCase):
    """The queries against what a real cloudlink-dataplane serves after real traffic."""
    job, instance, rules, min_queries = "cloudlink-dataplane", "dp", RULES, 10

    @classmethod
    def setUpClass(cls):
        h.require_binaries()
        work = h.temp_dir(cls, "deploy_observability.")
        cls.dp = h.Dataplane(cls, work, workers=2)
        backend = h.TcpBackend(cls, h.echo_handler)
        h.init_data(cls.dp.data)
        r = h.run([h.CONTROL, "routes", "add", "obs.test", backend.address, "--data", cls.dp.data])
        if r.returncode != 0:
            raise AssertionError(f"routes add: {r.stderr}")
        hello = h.client_hello("obs.test")
        with h.connect(cls.dp.port) as sock:  # one routed flow
            sock.sendall(hello + b"ping")
            sock.shutdown(socket.SHUT_WR)
            echoed = h.recv_until_closed(sock)
        if echoed != (hello + b"ping", "eof"):
            raise AssertionError(f"routed flow: got {echoed!r}")
        with h.connect(cls.dp.port) as sock:  # one rejected flow
            sock.sendall(h.client_hello("unknown.test"))
            alert = h.recv_until_closed(sock)[0]
        if alert != h.ALERT_UNRECOGNIZED_NAME:
            raise AssertionError(f"rejected flow: got {alert!r}")
        cls.dp.wait_metric("cloudlink_connections_accepted_total", 2)
        cls.dp.wait_metric("cloudlink_connections_active", 0)
        cls.scrape = Scrape(cls.dp.metrics_text())
        with open(DASHBOARD) as f:
            cls.dashboard = json.load(f)

    def test_traffic_shows_in_the_scrape(self):
        s = self.scrape.samples
        self.assertEqual(s[("cloudlink_connections_routed_total", ())], 1)
        self.assertEqual(s[("cloudlink_connections_rejected_total", (("reason", "unknown_sni"),))],
                         1)


class AgainstControlTest(ServedQueriesChecks, unittest.TestCase):
    """The control queries against what a real cloudlink-control serves after real requests:
    successes, client errors, a refused and a throttled login."""
    job, instance, rules, min_queries = "cloudlink-control", "cp", CONTROL_RULES, 8

    @classmethod
    def setUpClass(cls):
        work = h.temp_dir(cls, "deploy_observability_control.")
        # As in the production layout: HTTPS with a certificate from files, /metrics on a
        # loopback listener of its own, and a home whose certificate control reads through its
        # tunnel port (an openssl s_server standing in for the home's service).
        cert, key = h.make_cert(work, "home.obs.test")
        s_server, tunnel_port = h.start_s_server(cls, work, cert, key)
        cls.metrics_port = h.free_port()
        server = control_api.ControlServer(
            cls, work, tls=(cert, key),
            extra_args=["--metrics-listen", f"127.0.0.1:{cls.metrics_port}",
                        "--home-certificate-check", "1s",
                        "--port-range", f"{tunnel_port}-{tunnel_port + 9}"])
        h.wait_for_listen(cls.metrics_port, server.proc)
        admin = server.admin()
        check = control_api.check
        _, public_key = control_api.ssh_keygen(work, "obs_home")
        status, home = admin.call("POST", "/api/homes", {"name": "obs", "public_key": public_key})
        check(status == 201, f"POST /api/homes: {status} {home}")
        check(home["ports"][0] == tunnel_port, f"home ports {home['ports']}")
        status, body = admin.call("POST", f"/api/homes/{home['id']}/mappings",
                                  {"hostname": "home.obs.test", "tls_ports": [tunnel_port]})
        check(status == 201, f"POST mappings: {status} {body}")
        check(admin.call("GET", "/api/homes")[0] == 200, "GET /api/homes")
        check(admin.call("GET", "/api/homes/999")[0] == 404, "GET /api/homes/999")
        anonymous = server.anonymous()
        statuses = set()
        for _ in range(8):  # wrong passwords until the throttle answers 429
            status, _ = anonymous.call("POST", "/api/login",
                                       {"username": "root", "password": "wrong-password"})
            statuses.add(status)
            if status == 429:
                break
        check(statuses == {401, 429}, f"refused logins answered {statuses}")
        cls.api_metrics_status = anonymous.raw("GET", "/metrics")[0]
        metrics = control_api.Client(cls.metrics_port)
        home_gauge = "cloudlink_control_home_certificate_expiry_timestamp_seconds{"
        h.wait_until(lambda: home_gauge in metrics.raw("GET", "/metrics")[2].decode(),
                     what="the home's certificate read through its tunnel")
        cls.scrape = Scrape(metrics.raw("GET", "/metrics")[2].decode())
        with open(CONTROL_DASHBOARD) as f:
            cls.dashboard = json.load(f)

    def test_requests_show_in_the_scrape(self):
        s = self.scrape.samples
        login = {dict(labels)["status"]: v for (name, labels), v in s.items()
                 if name == "cloudlink_control_http_requests_total"
                 and dict(labels).get("route") == "/api/login"}
        self.assertGreaterEqual(login.get("401", 0), 1)
        self.assertEqual(login.get("429"), 1)

    def test_metrics_only_on_the_metrics_listener(self):
        self.assertEqual(self.api_metrics_status, 404)

    def test_certificate_expiry_shows_in_the_scrape(self):
        """Both certificates are the test's own (openssl req, valid for days): their notAfter
        lies ahead, the same for the file control serves and what the home's port presents."""
        s = self.scrape.samples
        own = s[("cloudlink_control_certificate_expiry_timestamp_seconds",
                 (("hostname", "home.obs.test"),))]
        homes = {dict(labels)["hostname"]: v for (name, labels), v in s.items()
                 if name == "cloudlink_control_home_certificate_expiry_timestamp_seconds"}
        self.assertGreater(own, time.time() + 86400)
        self.assertEqual(homes, {"home.obs.test": own})


if __name__ == "__main__":
    unittest.main(verbosity=2)
