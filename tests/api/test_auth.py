import pytest
from rest_framework.test import APIClient

from tests.factories import api_client, make_meter, make_user


@pytest.fixture
def client():
    return APIClient()


def test_token_is_issued_for_right_credentials_and_opens_the_api(client, org):
    make_user(org, username="alice", password="correct-horse-battery")

    answer = client.post(
        "/api/v1/auth/token",
        {"username": "alice", "password": "correct-horse-battery"},
        format="json",
    )

    assert answer.status_code == 200
    token = answer.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/meters/").status_code == 200


def test_wrong_password_is_401_with_json_error(client, org):
    make_user(org, username="alice", password="correct-horse-battery")

    answer = client.post(
        "/api/v1/auth/token", {"username": "alice", "password": "nope"}, format="json"
    )

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_credentials"


def test_missing_token_is_401_in_error_format(client, db):
    answer = client.get("/api/v1/buildings/")

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_authenticated"


def test_malformed_json_body_is_400_and_nothing_written(org):
    user = make_user(org)
    client = api_client(user)

    answer = client.generic(
        "POST", "/api/v1/buildings/", '{"name": "A栋",', content_type="application/json"
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "malformed_request"
    assert client.get("/api/v1/buildings/").json()["count"] == 0


def test_logout_kills_the_token(org):
    user = make_user(org)
    client = api_client(user)

    assert client.delete("/api/v1/auth/token").status_code == 204
    assert client.get("/api/v1/buildings/").status_code == 401


def test_unknown_api_url_answers_json_404(org):
    client = api_client(make_user(org))
    make_meter(org)

    answer = client.get("/api/v1/no-such-thing/")

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_schema_and_docs_are_served_without_cdn(client, db):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/v1/meters/" in schema.content
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
