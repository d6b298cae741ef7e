"""Role sessions sized by MaxSessionDuration (issue 4): iam:GetRole with the
session's own keys where allowed, probing STS where denied, an
administrator's raise or cut used at the next refresh, never chaining."""

import json
import unittest

from harness import DEV_ARN, PROD_ARN, Stack, status_exit

WORLD = {
    "roles": {
        DEV_ARN: {"max_session_duration": 14400, "get_role": True,
                  "provider": "arn:aws:iam::111122223333:saml-provider/ADFS"},
        PROD_ARN: {"max_session_duration": 7200, "get_role": False,
                   "provider": "arn:aws:iam::444455556666:saml-provider/ADFS"},
    },
    "users": [{
        "username": "EXAMPLE\\alice", "upn": "alice@example.com",
        "password": "Correct-Horse-1", "name_id": "EXAMPLE\\alice",
        "role_session_name": "alice@example.com",
        "roles": [
            DEV_ARN + ",arn:aws:iam::111122223333:saml-provider/ADFS",
            "arn:aws:iam::444455556666:saml-provider/ADFS," + PROD_ARN,
        ],
        "session_duration": None, "mfa": None,
    }],
}


class TestDurationSizing(unittest.TestCase):
    def setUp(self):
        self.s = Stack(config={"roles": [{"name": "dev", "arn": DEV_ARN},
                                         {"name": "prod", "arn": PROD_ARN}]},
                       world=WORLD)
        self.addCleanup(self.s.close)
        self.s.start_daemon()

    def roles(self):
        p = self.s.ctl("status", "--json")
        self.assertEqual(p.returncode, status_exit(json.loads(p.stdout)), p.stderr)
        return {r["name"]: r for r in json.loads(p.stdout)["roles"]}

    def actions(self, since=0):
        """Every request the STS/IAM emulator received, in order, from the
        since-th on: (Action, the role it named: RoleArn for
        AssumeRoleWithSAML, RoleName for GetRole, else None)."""
        return [(e["op"], e.get("role_arn") or e.get("role_name"))
                for e in self.s.sts.requests()[since:]]

    def durations(self):
        """DurationSeconds of every AssumeRoleWithSAML the STS emulator saw."""
        log = self.s.sts.requests()
        return [(e["role_arn"], int(e["duration_seconds"] or 3600))
                for e in log if e.get("op") == "AssumeRoleWithSAML"]

    def test_get_role_probe_raise_and_cut(self):
        self.assertEqual(self.s.login().returncode, 0, self.s.log_text())
        r = self.roles()
        # dev: 12 h refused, 1 h, GetRole says 4 h, 4 h.
        self.assertEqual((r["dev"]["duration"], r["dev"]["max_session_duration"],
                          r["dev"]["max_source"]), (14400, 14400, "get_role"))
        # prod: GetRole denied; probed down to its 2 h.
        self.assertEqual((r["prod"]["duration"], r["prod"]["max_source"]), (7200, "probe"))
        st = self.s.sts.stats()
        self.assertEqual(st["get_role"], 2)
        self.assertLessEqual(st["assume_calls"], 10, "at most 5 STS calls per role")
        d = self.durations()
        self.assertEqual([x for a, x in d if a == DEV_ARN], [43200, 3600, 14400])
        self.assertEqual([x for a, x in d if a == PROD_ARN], [43200, 3600, 28800, 14400, 7200])
        # What STS and IAM received, in order: the sign-in's calls and
        # nothing else (GetRole with dev's own keys after its first success;
        # prod's GetRole denied, then probed).
        arws = "AssumeRoleWithSAML"
        self.assertEqual(self.actions(),
                         [(arws, DEV_ARN), (arws, DEV_ARN), ("GetRole", "ADFS-Dev"),
                          (arws, DEV_ARN),
                          (arws, PROD_ARN), (arws, PROD_ARN), ("GetRole", "ADFS-Prod"),
                          (arws, PROD_ARN), (arws, PROD_ARN), (arws, PROD_ARN)])

        # The credentials are real: boto3 signs with them.
        env = {}
        for line in self.s.ctl("env", "dev").stdout.splitlines():
            k, v = line.removeprefix("export ").split("=", 1)
            env[k] = v
        self.assertTrue(self.s.boto3(env)["Arn"].endswith("assumed-role/ADFS-Dev/alice@example.com"))

        # An administrator raises dev to 12 h: the next refresh uses it
        # (one STS call at the known 4 h, GetRole, one at 12 h).
        self.s.sts.configure(role_overrides={DEV_ARN: {"max_session_duration": 43200}})
        n, k = len(self.durations()), len(self.actions())
        self.assertEqual(self.s.ctl("refresh", "dev").returncode, 0)
        self.assertEqual([x for _, x in self.durations()[n:]], [14400, 43200])
        self.assertEqual(self.actions(k), [(arws, DEV_ARN), ("GetRole", "ADFS-Dev"),
                                           (arws, DEV_ARN)])
        self.assertEqual((self.roles()["dev"]["duration"], self.roles()["dev"]["max_source"]),
                         (43200, "get_role"))

        # ... and cuts prod to 1 h: the refresh still succeeds, at 1 h.
        self.s.sts.configure(role_overrides={PROD_ARN: {"max_session_duration": 3600}})
        n, k = len(self.durations()), len(self.actions())
        p = self.s.ctl("refresh", "prod")
        self.assertEqual(p.returncode, 0, p.stderr)
        r = self.roles()["prod"]
        self.assertEqual((r["state"], r["duration"]), ("valid", 3600))
        self.assertEqual([x for _, x in self.durations()[n:]], [7200, 3600])
        self.assertEqual(self.actions(k), [(arws, PROD_ARN), (arws, PROD_ARN)])

        # Nothing ever chained (no AssumeRole with a session's keys, no
        # other action): besides AssumeRoleWithSAML and GetRole, STS saw
        # only boto3's GetCallerIdentity.
        self.assertEqual([a for a in self.actions() if a[0] not in (arws, "GetRole")],
                         [("GetCallerIdentity", None)])

    def test_explicit_refresh_looks_for_a_raise_at_once(self):
        """A probed role (GetRole denied) looks upward only every 6 h on the
        timer, but `adfs-credctl refresh ROLE` asks for its maximum now."""
        self.s.sts.configure(role_overrides={PROD_ARN: {"max_session_duration": 3600}})
        self.assertEqual(self.s.login().returncode, 0, self.s.log_text())
        r = self.roles()["prod"]
        self.assertEqual((r["duration"], r["max_source"]), (3600, "probe"))

        # The administrator raises prod to 12 h; the user refreshes it.
        self.s.sts.configure(role_overrides={PROD_ARN: {"max_session_duration": 43200}})
        n = len(self.durations())
        p = self.s.ctl("refresh", "prod")
        self.assertEqual(p.returncode, 0, p.stderr)
        # One call at the known 1 h, one upward probe at 12 h: no waiting
        # for the next 6-hourly probe.
        self.assertEqual([x for _, x in self.durations()[n:]], [3600, 43200])
        r = self.roles()["prod"]
        self.assertEqual((r["state"], r["duration"], r["max_session_duration"],
                          r["max_source"]), ("valid", 43200, 43200, "probe"))

        # A refresh of every role does the same for a probed role, and the
        # GetRole role (dev) just asks GetRole as always.
        self.s.sts.configure(role_overrides={PROD_ARN: {"max_session_duration": 3600}})
        self.assertEqual(self.s.ctl("refresh", "prod").returncode, 0)
        self.assertEqual(self.roles()["prod"]["duration"], 3600)
        self.s.sts.configure(role_overrides={PROD_ARN: {"max_session_duration": 28800}})
        n = len(self.durations())
        p = self.s.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([x for a, x in self.durations()[n:] if a == PROD_ARN], [3600, 43200, 28800])
        self.assertEqual(self.roles()["prod"]["duration"], 28800)


if __name__ == "__main__":
    unittest.main()
