#!/usr/bin/env python3
"""Generate (or mutate) a large block-style fleet.yaml for benchmarks.

    gen_fleet.py --seed N [--nodes 3700] [--shape default|small] --out FILE
        ~20 templates, ~80 modules, ~3 assignments per node; about 1 MiB for
        3700 nodes (always under the 1 MiB limit git-fleet enforces).

    gen_fleet.py --mutate FILE --seed N [--fraction 0.01] --out FILE2
        a copy of FILE where ~fraction of all resources change: mostly
        assignment value edits, a few module config edits, a couple of added
        and a couple of removed assignments. Assignments only ever reference
        defined modules.

Both modes are deterministic for a given seed (and input). Python 3 stdlib
only. Sizes and counts go to stderr; nothing goes to stdout.
"""

import argparse
import random
import sys

MIB = 1024 * 1024

# ---------------------------------------------------------------- vocabulary

TEMPLATE_ROLES = [
    "web-server", "api-gateway", "db-primary", "db-replica", "cache-node",
    "queue-broker", "batch-worker", "edge-proxy", "log-collector", "metrics-node",
    "build-agent", "search-node", "storage-node", "auth-server", "mail-relay",
    "dns-resolver", "vpn-gateway", "bastion-host", "scheduler", "media-transcoder",
    "ml-inference", "backup-target", "ci-runner", "cdn-origin",
]
TEMPLATE_DESCRIPTIONS = [
    "Standard nginx node", "Hardened public entry point", "Primary database host",
    "Read replica with delayed apply", "In-memory cache tier", "Message broker node",
    "Background job runner", "TLS terminating proxy", "Central log shipping node",
    "Prometheus scrape target", "Ephemeral build agent", "Full text search node",
    "Bulk object storage", "Identity and token service", "Outbound mail relay",
    "Recursive resolver", "Site to site VPN gateway", "Jump host for operators",
    "Cron and workflow scheduler", "Video transcoding worker",
]
MODULE_SERVICES = [
    "nginx", "haproxy", "postgres", "redis", "rabbitmq", "kafka", "prometheus",
    "grafana", "fluentbit", "sshd", "chrony", "unbound", "envoy", "consul",
    "vault-agent", "node-exporter", "logrotate", "firewall", "sysctl", "docker",
]
MODULE_FLAVOURS = ["public", "internal", "base", "tuned", "hardened", "ha", "debug", "legacy"]
VARIETIES = ["config", "package", "service", "file"]

# config keys with a value kind and a generator domain
CONFIG_KEYS = {
    "nginx_workers": "int", "listen_port": "port", "max_connections": "int",
    "worker_threads": "int", "timeout_seconds": "int", "retry_count": "small",
    "cache_size_mb": "int", "log_level": "level", "log_format": "fmt",
    "region": "region", "tls_enabled": "bool", "ipv6_enabled": "bool",
    "compression": "bool", "keepalive": "bool", "debug_mode": "bool",
    "metrics_enabled": "bool", "backup_window": "window", "replica_count": "small",
    "pool_size": "int", "buffer_kb": "int", "upstream": "host", "bind_address": "addr",
    "data_dir": "path", "user": "user", "rate_limit": "int", "heap_mb": "int",
    "gc_mode": "gc", "sync_interval": "int", "channel": "channel", "zone": "zone",
}
CONFIG_KEY_NAMES = sorted(CONFIG_KEYS)
DOMAINS = {
    "level": ["debug", "info", "notice", "warn", "error"],
    "fmt": ["json", "logfmt", "combined", "plain"],
    "region": ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1"],
    "window": ["daily-0200", "daily-0300", "weekly-sun", "hourly"],
    "host": ["app-pool-a", "app-pool-b", "api-backend", "legacy-backend", "canary-pool"],
    "addr": ["any-v4", "any-v6", "loopback", "private-net"],
    "path": ["/var/lib/app", "/srv/data", "/data/disk1", "/opt/service/data"],
    "user": ["svc-app", "svc-web", "svc-db", "nobody"],
    "gc": ["throughput", "low-latency", "balanced"],
    "channel": ["stable", "beta", "edge", "lts"],
    "zone": ["zone-a", "zone-b", "zone-c"],
}


def gen_value(rng, key):
    kind = CONFIG_KEYS[key]
    if kind == "int":
        return str(rng.choice([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]) * rng.randint(1, 4))
    if kind == "small":
        return str(rng.randint(0, 9))
    if kind == "port":
        return str(rng.choice([80, 443, 8080, 8443, 9000, 9090, 9100, 5432, 6379]) + rng.choice([0, 0, 0, 1, 2]))
    if kind == "bool":
        return rng.choice(["true", "false"])
    return rng.choice(DOMAINS[kind])


def new_value(rng, key, old):
    """A value for key guaranteed to differ from old."""
    for _ in range(50):
        v = gen_value(rng, key)
        if v != old:
            return v
    if CONFIG_KEYS[key] == "bool":
        return "false" if old == "true" else "true"
    if old.lstrip("-").isdigit():
        return str(int(old) + 1)
    return old + "-x"


def uuid4(rng):
    h = "%032x" % rng.getrandbits(128)
    h = h[:12] + "4" + h[13:16] + "89ab"[int(h[16], 16) % 4] + h[17:]
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


# ---------------------------------------------------------------- model
# A fleet is {kind: {resource_key: {field: raw_scalar_text | {cfg_key: raw}}}},
# insertion-ordered. Scalars are kept as their raw YAML text so that
# parse(emit(x)) round-trips byte for byte.

KINDS = ["templates", "modules", "assignments"]


def emit(fleet):
    out = []
    for kind in KINDS:
        res = fleet.get(kind)
        if res is None:
            continue
        out.append(kind + ":\n")
        for key, fields in res.items():
            out.append("  " + key + ":\n")
            for f, v in fields.items():
                if isinstance(v, dict):
                    out.append("    " + f + ":\n")
                    for ck, cv in v.items():
                        out.append("      " + ck + ": " + cv + "\n")
                else:
                    out.append("    " + f + ": " + v + "\n")
    return "".join(out)


def parse(text, path):
    """Parse exactly the subset emit() writes; anything else is an error."""
    fleet = {}
    kind = res = field = None
    for n, line in enumerate(text.splitlines(), 1):
        ind = len(line) - len(line.lstrip(" "))
        body = line[ind:]

        def bad(msg):
            sys.exit("%s:%d: %s (not a gen_fleet.py file?)" % (path, n, msg))

        if not body.endswith(":") and ": " not in body:
            bad("unexpected line")
        if ind == 0:
            if body[:-1] not in KINDS or body[:-1] in fleet:
                bad("unknown or repeated kind")
            kind = body[:-1]
            fleet[kind] = {}
            res = field = None
        elif ind == 2 and kind and body.endswith(":"):
            res = body[:-1]
            fleet[kind][res] = {}
            field = None
        elif ind == 4 and res is not None:
            if body.endswith(":"):
                field = body[:-1]
                fleet[kind][res][field] = {}
            else:
                k, v = body.split(": ", 1)
                fleet[kind][res][k] = v
                field = None
        elif ind == 6 and field is not None:
            k, v = body.split(": ", 1)
            fleet[kind][res][field][k] = v
        else:
            bad("unexpected indentation")
    if emit(fleet) != text:
        sys.exit("%s: does not round-trip (not a gen_fleet.py file?)" % path)
    return fleet


def nodes_of(fleet):
    return {k.split(":", 1)[0] for k in fleet["assignments"]}


def describe(fleet, text):
    return "%d bytes (%.3f MiB): %d templates, %d modules, %d assignments, %d nodes" % (
        len(text.encode()), len(text.encode()) / MIB, len(fleet["templates"]),
        len(fleet["modules"]), len(fleet["assignments"]), len(nodes_of(fleet)))


# ---------------------------------------------------------------- generate

# Shapes: "default" is ~80 modules and 2-4 assignments per node, 60% with a
# config; "small" is many small resources and fewer large ones: 120 modules,
# exactly 4 assignments per node (14,800 at 3,700 nodes), 10% with a config.
SHAPES = {
    "default": {"modules": None, "per_node": None, "config_rate": 0.6},
    "small": {"modules": 120, "per_node": 4, "config_rate": 0.1},
}


def generate(seed, nodes, shape="default"):
    sh = SHAPES[shape]
    rng = random.Random("fleet-gen:%d" % seed)
    fleet = {k: {} for k in KINDS}

    n_templates = rng.randint(18, 22)
    for name in sorted(rng.sample(TEMPLATE_ROLES, n_templates)):
        fleet["templates"][name] = {
            "name": name,
            "description": rng.choice(TEMPLATE_DESCRIPTIONS),
            "node_platform_id": uuid4(rng),
        }

    n_modules = rng.randint(76, 84)
    if sh["modules"]:
        n_modules = sh["modules"]
    combos = ["%s-%s" % (s, f) for s in MODULE_SERVICES for f in MODULE_FLAVOURS]
    module_names = sorted(rng.sample(combos, n_modules))
    for name in module_names:
        keys = rng.sample(CONFIG_KEY_NAMES, rng.randint(3, 8))
        fleet["modules"][name] = {
            "name": name,
            "priority": str(rng.randint(0, 100)),
            "variety": rng.choice(VARIETIES),
            "config": {k: gen_value(rng, k) for k in keys},
        }

    # popularity skew: some modules sit on many nodes, some on few
    weights = [rng.choice([1, 1, 2, 3, 5, 8]) for _ in module_names]
    width = max(4, len(str(nodes)))
    for i in range(1, nodes + 1):
        node = "node-%0*d" % (width, i)
        want = rng.choice([2, 3, 3, 3, 4])
        if sh["per_node"]:
            want = sh["per_node"]
        chosen = []
        while len(chosen) < want:
            m = rng.choices(module_names, weights)[0]
            if m not in chosen:
                chosen.append(m)
        for m in sorted(chosen):
            fleet["assignments"]["%s:%s" % (node, m)] = new_assignment(
                rng, fleet, m, sh["config_rate"])
    return fleet


def new_assignment(rng, fleet, module, config_rate=0.6):
    a = {
        "enabled": "false" if rng.random() < 0.08 else "true",
        "priority": str(rng.randint(0, 100)),
    }
    if rng.random() < config_rate:
        mod_keys = list(fleet["modules"][module]["config"])
        cfg = {}
        for _ in range(rng.randint(1, 2)):
            # mostly override a key of the module, sometimes add a new one
            k = rng.choice(mod_keys) if rng.random() < 0.8 else rng.choice(CONFIG_KEY_NAMES)
            cfg[k] = gen_value(rng, k)
        a["config"] = cfg
    return a


# ---------------------------------------------------------------- mutate

def edit_assignment(rng, fleet, key):
    a = fleet["assignments"][key]
    module = key.split(":", 1)[1]
    what = rng.choice(["enabled", "priority", "priority", "config", "config", "config"])
    if what == "enabled":
        a["enabled"] = "false" if a["enabled"] == "true" else "true"
    elif what == "priority":
        a["priority"] = str((int(a["priority"]) + rng.randint(1, 100)) % 101)
    else:
        cfg = a.get("config")
        if cfg and rng.random() < 0.75:
            k = rng.choice(list(cfg))
            cfg[k] = new_value(rng, k, cfg[k])
        else:
            cfg = a.setdefault("config", {})
            candidates = [k for k in fleet["modules"][module]["config"] if k not in cfg] or \
                [k for k in CONFIG_KEY_NAMES if k not in cfg]
            k = rng.choice(candidates)
            cfg[k] = gen_value(rng, k)


def edit_module(rng, fleet, name):
    cfg = fleet["modules"][name]["config"]
    k = rng.choice(list(cfg))
    cfg[k] = new_value(rng, k, cfg[k])


def mutate(fleet, seed, fraction):
    rng = random.Random("fleet-mutate:%d" % seed)
    total = sum(len(fleet[k]) for k in KINDS)
    n = max(1, round(total * fraction))
    n_added = min(2, n)
    n_removed = min(2, max(0, n - n_added))
    n_modules = min(len(fleet["modules"]), max(0, min(n - n_added - n_removed, max(1, round(n * 0.04)))))
    n_assign = max(0, n - n_added - n_removed - n_modules)

    akeys = list(fleet["assignments"])
    picked = rng.sample(akeys, n_assign + n_removed)
    edited, removed = picked[:n_assign], picked[n_assign:]
    for key in edited:
        edit_assignment(rng, fleet, key)
    for key in sorted(rng.sample(list(fleet["modules"]), n_modules)):
        edit_module(rng, fleet, key)
    for key in removed:
        del fleet["assignments"][key]

    # add assignments: a node gets a module it does not have yet, inserted
    # right after that node's other assignments so the file stays grouped
    module_names = list(fleet["modules"])
    nodes = sorted(nodes_of(fleet))
    added = []
    while len(added) < n_added:
        node = rng.choice(nodes)
        module = rng.choice(module_names)
        key = "%s:%s" % (node, module)
        if key in fleet["assignments"]:
            continue
        items = list(fleet["assignments"].items())
        pos = max(i for i, (k, _) in enumerate(items) if k.startswith(node + ":")) + 1
        items.insert(pos, (key, new_assignment(rng, fleet, module)))
        fleet["assignments"] = dict(items)
        added.append(key)
    return {"resources": total, "changed": n_assign + n_modules + n_added + n_removed,
            "assignment_edits": n_assign, "module_edits": n_modules,
            "added": n_added, "removed": n_removed}


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--nodes", type=int, default=3700)
    ap.add_argument("--mutate", metavar="FILE", help="mutate FILE instead of generating")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="default",
                    help="default: ~80 modules, ~3 assignments per node; small: 120 "
                         "modules, 4 assignments per node, few configs")
    ap.add_argument("--fraction", type=float, default=0.01)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    if args.mutate:
        with open(args.mutate, encoding="utf-8") as f:
            fleet = parse(f.read(), args.mutate)
        stats = mutate(fleet, args.seed, args.fraction)
        text = emit(fleet)
        print("gen_fleet: mutated %s seed %d: %d of %d resources changed "
              "(%d assignment edits, %d module edits, %d added, %d removed)"
              % (args.mutate, args.seed, stats["changed"], stats["resources"],
                 stats["assignment_edits"], stats["module_edits"], stats["added"],
                 stats["removed"]), file=sys.stderr)
    else:
        fleet = generate(args.seed, args.nodes, args.shape)
        text = emit(fleet)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    size = len(text.encode())
    print("gen_fleet: wrote %s: %s" % (args.out, describe(fleet, text)), file=sys.stderr)
    if size > MIB:
        print("gen_fleet: warning: %s is over 1 MiB (%d bytes); git-fleet refuses such files"
              % (args.out, size), file=sys.stderr)


if __name__ == "__main__":
    main()
