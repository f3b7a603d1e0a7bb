#!/usr/bin/env python3
"""Self-test for gen_fleet.py: size, counts, determinism, mutation fraction,
validity. Run: python3 bench/test_gen_fleet.py  (stdlib only, ~5 s)."""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "gen_fleet.py")
sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, HERE)
import gen_fleet  # noqa: E402

MIB = 1024 * 1024


def run(*args):
    subprocess.run([sys.executable, GEN, *args], check=True, stderr=subprocess.DEVNULL)


def load(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return text, gen_fleet.parse(text, path)


def changed(a, b):
    """(kind, key) of every resource added, removed or edited from a to b."""
    out = set()
    for kind in gen_fleet.KINDS:
        for key in set(a[kind]) | set(b[kind]):
            if a[kind].get(key) != b[kind].get(key):
                out.add((kind, key))
    return out


class GenFleet(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.a = os.path.join(cls.tmp.name, "A.yaml")
        run("--seed", "1", "--out", cls.a)
        cls.text, cls.fleet = load(cls.a)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_size_and_counts(self):
        size = len(self.text.encode())
        self.assertTrue(0.9 * MIB < size <= MIB, size)
        f = self.fleet
        self.assertTrue(15 <= len(f["templates"]) <= 25)
        self.assertTrue(70 <= len(f["modules"]) <= 90)
        self.assertEqual(len(gen_fleet.nodes_of(f)), 3700)
        self.assertTrue(2.7 * 3700 <= len(f["assignments"]) <= 3.3 * 3700)

    def test_shape(self):
        for name, t in self.fleet["templates"].items():
            self.assertEqual(list(t), ["name", "description", "node_platform_id"])
            self.assertEqual(t["name"], name)
        for name, m in self.fleet["modules"].items():
            self.assertEqual(list(m), ["name", "priority", "variety", "config"])
            self.assertTrue(0 <= int(m["priority"]) <= 100)
            self.assertTrue(3 <= len(m["config"]) <= 8)
        with_cfg = 0
        for key, a in self.fleet["assignments"].items():
            node, module = key.split(":")
            self.assertIn(module, self.fleet["modules"])
            self.assertIn(a["enabled"], ("true", "false"))
            self.assertTrue(0 <= int(a["priority"]) <= 100)
            with_cfg += "config" in a
        self.assertTrue(with_cfg > len(self.fleet["assignments"]) / 3)

    def test_deterministic(self):
        run("--seed", "1", "--out", self.path("A2.yaml"))
        self.assertEqual(load(self.path("A2.yaml"))[0], self.text)
        run("--seed", "2", "--out", self.path("C.yaml"))
        self.assertNotEqual(load(self.path("C.yaml"))[0], self.text)

    def test_mutation(self):
        total = sum(len(self.fleet[k]) for k in gen_fleet.KINDS)
        seen = []
        for seed in (1, 2, 3):
            b = self.path("B%d.yaml" % seed)
            run("--mutate", self.a, "--seed", str(seed), "--out", b)
            text, fleet = load(b)
            run("--mutate", self.a, "--seed", str(seed), "--out", b + ".again")
            self.assertEqual(load(b + ".again")[0], text, "mutation not deterministic")
            self.assertLessEqual(len(text.encode()), MIB)
            diff = changed(self.fleet, fleet)
            self.assertTrue(0.008 * total <= len(diff) <= 0.012 * total, len(diff))
            kinds = [k for k, _ in diff]
            self.assertGreater(kinds.count("assignments"), 0.85 * len(diff))
            self.assertGreaterEqual(kinds.count("modules"), 1)
            added = set(fleet["assignments"]) - set(self.fleet["assignments"])
            removed = set(self.fleet["assignments"]) - set(fleet["assignments"])
            self.assertEqual((len(added), len(removed)), (2, 2))
            for key in fleet["assignments"]:
                self.assertIn(key.split(":")[1], fleet["modules"])
            seen.append(text)
        self.assertEqual(len(set(seen)), 3, "different seeds gave the same mutation")


if __name__ == "__main__":
    unittest.main()
