from __future__ import annotations


def test_healthz_checks_the_database(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/healthz")
    assert r.status_code == 200
    from coreviz_studio.db.migrate import head_revision

    assert r.json()["database"] == "ok" and r.json()["schemaRevision"] == head_revision()


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


def test_database_down_is_503_not_500(settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from coreviz_studio.app import create_app
    from coreviz_studio.db.session import Database, sqlalchemy_url

    url = "postgresql://postgres@/coreviz?host=/nonexistent-socket-dir&connect_timeout=1"
    engine = create_engine(sqlalchemy_url(url))
    down = Database(url, engine, sessionmaker(engine))
    with TestClient(create_app(settings, down), raise_server_exceptions=False) as c:
        r = c.get("/healthz")
        assert r.status_code == 503 and r.json()["error"] == "Service Unavailable"
        r = c.get("/api/me", headers={"x-api-key": "cvz_anything"})
        assert r.status_code == 503 and "database" in r.json()["message"].lower()
    engine.dispose()


def test_a_serving_app_freezes_its_start_up_objects_and_a_test_app_does_not(
        settings, database) -> None:  # type: ignore[no-untyped-def]
    import gc

    from fastapi.testclient import TestClient

    from coreviz_studio.app import create_app

    before = gc.get_freeze_count()
    try:
        with TestClient(create_app(settings, database)) as c:
            assert c.get("/healthz").status_code == 200
            assert gc.get_freeze_count() == before  # tests make many apps: theirs are freed
        with TestClient(create_app(settings, database, serving=True)) as c:
            assert c.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > before + 10_000
    finally:
        gc.unfreeze()
