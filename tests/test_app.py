from __future__ import annotations


def test_healthz_checks_the_database(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["database"] == "ok" and r.json()["schemaRevision"] == "0001"


def test_openapi_and_docs(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    for path in ("/api/me", "/api/auth/organization/list", "/api/organization/{org_id}/datasets",
                 "/api/dataset/{dataset_id}", "/healthz"):
        assert path in spec["paths"]
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]
    r = client.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()


def test_unknown_route_and_method_are_json(client, make_member) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    r = client.get("/api/nothing-here", headers=m.headers)
    assert r.status_code == 404 and r.json()["error"] == "Not Found"
    r = client.delete("/api/me", headers=m.headers)
    assert r.status_code == 405 and r.json()["error"] == "Method Not Allowed"
