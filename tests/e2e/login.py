"""Logging in to the console in a browser test."""

PASSWORD = "Sparkling-Meter-42"


def log_in(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the console's login page and wait for the dashboard."""
    page.goto(f"{base_url}/console/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-dashboard]")
