"""A link naming its workspace (the mlflow client prints ``#/...?workspace=W``) opens
a page offering to switch there, and the switch lands on the linked page."""

from __future__ import annotations

from pathlib import Path

from kiln.testing.auth_app import ADMIN_PASSWORD, auth_server


def _csrf(http: object) -> str:
    http.get("/login")  # type: ignore[attr-defined]
    return str(http.cookies["kiln_csrf"])  # type: ignore[attr-defined]


def test_a_link_into_another_workspace_offers_the_switch_then_lands(tmp_path: Path) -> None:
    with auth_server(tmp_path) as server:
        http = server.http
        server.tenant("team-a")
        made = http.post(
            "/api/2.0/mlflow/experiments/create",
            json={"name": "linked"},
            headers={**server.admin, "X-MLFLOW-WORKSPACE": "team-a"},
        )
        assert made.status_code == 200, made.text
        run = http.post(
            "/api/2.0/mlflow/runs/create",
            json={"experiment_id": made.json()["experiment_id"], "run_name": "far-run"},
            headers={**server.admin, "X-MLFLOW-WORKSPACE": "team-a"},
        ).json()["run"]["info"]["run_id"]
        signed = http.post(
            "/login",
            data={"name": "admin", "password": ADMIN_PASSWORD, "csrf_token": _csrf(http)},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        offered = http.get(f"/runs/{run}?workspace=team-a", follow_redirects=False)
        assert offered.status_code == 200
        assert "Switch to team-a" in offered.text
        assert "far-run" not in offered.text  # nothing of team-a before the switch
        # without the switch, the session's workspace does not hold the run
        assert http.get(f"/runs/{run}", follow_redirects=False).status_code == 404
        switched = http.post(
            "/workspace",
            data={"workspace": "team-a", "next": f"/runs/{run}", "csrf_token": _csrf(http)},
            follow_redirects=False,
        )
        assert switched.status_code == 303
        assert switched.headers["location"] == f"/runs/{run}"
        landed = http.get(f"/runs/{run}?workspace=team-a", follow_redirects=False)
        assert landed.status_code == 200
        assert "far-run" in landed.text
        # next stays on this site
        evil = http.post(
            "/workspace",
            data={"workspace": "team-a", "next": "//evil.example/x", "csrf_token": _csrf(http)},
            follow_redirects=False,
        )
        assert "evil.example" not in evil.headers["location"]
