import io

import pytest
from openpyxl import load_workbook

from tests.e2e.login import log_in
from tests.factories import make_meter, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_log_in_open_the_meters_list_and_export_it(live_server, page, org, other_org):
    make_user(org, username="operator", password="Sparkling-Meter-42")
    for n in range(3):
        make_meter(org, address=f"10000000000{n}")
    make_meter(other_org, address="999999999999")

    log_in(page, live_server.url, "operator")
    assert page.title().startswith("首页概览")
    assert page.locator("[data-figure=rooms]").count() == 1

    page.goto(f"{live_server.url}/console/metering/meter/")
    assert page.locator("text=100000000001").count() == 1
    assert page.locator("text=999999999999").count() == 0
    with page.expect_download() as download_info:
        page.get_by_role("link", name="导出Excel").click()
    download = download_info.value
    with open(download.path(), "rb") as downloaded:
        sheet = load_workbook(io.BytesIO(downloaded.read())).active
    addresses = sorted(row[0].value for row in sheet.iter_rows(min_row=2))
    assert addresses == ["100000000000", "100000000001", "100000000002"]


def test_wrong_password_shows_a_chinese_message(live_server, page, org):
    make_user(org, username="operator", password="Sparkling-Meter-42")

    page.goto(f"{live_server.url}/console/login/")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")

    assert page.locator("text=用户名或密码错误").count() >= 1


def test_console_fetches_nothing_from_other_hosts(live_server, page, org):
    make_user(org, username="operator", password="Sparkling-Meter-42")
    make_meter(org, address="100000000000")
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    log_in(page, live_server.url, "operator")
    page.goto(f"{live_server.url}/console/metering/meter/")
    page.wait_for_load_state("networkidle")

    assert any("/static/" in url for url in requested)
    outside = [url for url in requested if not url.startswith((live_server.url, "data:", "blob:"))]
    assert outside == []
