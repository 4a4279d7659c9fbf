from django.test import Client


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_console_is_in_chinese_by_default(admin_user):
    page = logged_in(admin_user).get("/console/")

    assert '<html lang="zh-hans"' in page.content.decode()
    assert page.context["title"] == "首页概览"


def test_english_is_chosen_with_the_language_switch(admin_user):
    client = logged_in(admin_user)

    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/console/"})
    page = client.get("/console/")

    assert switched.status_code == 302
    assert '<html lang="en"' in page.content.decode()
    assert page.context["title"] == "Dashboard"
