"""The Content-Security-Policy in Chromium (issue 14): the pages work under it, and it does block an
inline script, so the check every browser test makes (its console holds no CSP refusal) is not empty."""

from __future__ import annotations

import pytest

from reviews.models import Upload
from tests.browser.conftest import CSP_REFUSAL, log_in
from tests.factories import make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_policy_blocks_an_inline_script_on_our_pages(browser, live_server, admin_user):
    context = browser.new_context()
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    log_in(page, live_server.url, admin_user.username)
    ran = page.evaluate(
        """() => new Promise((resolve) => {
            window.ranInline = false;
            document.addEventListener('securitypolicyviolation', () => resolve(window.ranInline), {once: true});
            const script = document.createElement('script');
            script.textContent = 'window.ranInline = true';
            document.body.appendChild(script);
        })"""
    )
    assert ran is False
    assert any(CSP_REFUSAL in text for text in messages), messages
    context.close()


def test_pages_with_scripts_work_under_the_policy(page, live_server, admin_user):
    dataset, run = make_run(queries=2, k=2)
    query = dataset.queries.order_by("id").first()
    assert query is not None
    log_in(page, live_server.url, admin_user.username)
    page.goto(f"{live_server.url}/datasets/{dataset.name}/queries/{query.pk}/")
    page.locator("select[name=run]").wait_for()
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    page.goto(f"{live_server.url}/uploads/new/")
    page.locator("#id_target_1").check()  # upload.js shows the dataset list
    page.locator("#id_name").wait_for(state="hidden")
    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui .info").wait_for()  # Swagger UI started from its script file
    page.goto(f"{live_server.url}/admin/reviews/upload/")
    assert Upload.objects.count() == 0
    # the page fixture fails the test if any of these pages met a CSP refusal
