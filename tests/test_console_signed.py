"""The console under `serve --admin-key`: a sign-in page; every call signed with SigV4 in the browser, as the
signed-in identity, so an IAM user sees and does exactly what their policies allow them through boto3."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from console_helpers import CHROMIUM, NEEDS_CHROMIUM, Page, chromium
from helpers import GatewayProcess, create_function

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)

ADMIN = ("AKIACONSOLEADMIN0001", "console-admin-secret")
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "apigateway:GET", "Resource": "*"}],
}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path_factory.mktemp("console-signed") / "data", ["--admin-key", ":".join(ADMIN)]
    )
    process.start()
    yield process
    process.stop()


def _client(gateway: GatewayProcess, service: str, key: str, secret: str) -> object:
    return boto3.client(
        service,
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


async def _sign_in(page: Page, key: str, secret: str) -> None:
    await page.until("document.querySelector('main h1')?.textContent === 'Sign in to apigate'")
    await page.fill("Access key ID", key)
    await page.fill("Secret access key", secret)
    await page.press("Sign in")


def test_sign_in_and_signed_calls(guarded: GatewayProcess, tmp_path: Path) -> None:
    apigw = _client(guarded, "apigateway", *ADMIN)
    existing = apigw.create_rest_api(name="made-with-boto3")["id"]  # type: ignore[attr-defined]
    create_function(
        _client(guarded, "lambda", *ADMIN),
        "def lambda_handler(event, context):\n    return 1\n",
        name="signed-fn",
    )
    iam = _client(guarded, "iam", *ADMIN)
    iam.create_user(UserName="reader")  # type: ignore[attr-defined]
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(READ_ONLY))  # type: ignore[attr-defined]
    reader = iam.create_access_key(UserName="reader")["AccessKey"]  # type: ignore[attr-defined]
    console = f"{guarded.url}/_apigate/console/"

    async def walk() -> None:
        async with chromium() as browser:
            page = await browser.page()
            await page.goto(console)
            await _sign_in(page, ADMIN[0], "not-the-secret")
            await page.until("document.querySelector('.error')?.textContent.includes('signature')")
            await page.screenshot(tmp_path / "console-signin.png")
            assert await page.unlabelled() == []

            await _sign_in(page, *ADMIN)
            await page.until(f"document.querySelector('#apis-table')?.innerText.includes('{existing}')")
            # Nothing secret leaves the tab: the key is in this tab's session storage only.
            assert await page.evaluate("localStorage.length") == 0
            assert ADMIN[1] in str(await page.evaluate("JSON.stringify(sessionStorage)"))
            await page.fill("API name", "made-in-the-console")
            await page.press("Create API")  # a signed POST with a JSON body
            await page.until("!!document.querySelector('#resources-heading')")
            await page.press("Functions", "nav a")
            await page.until(
                "document.querySelector('#functions-table')?.innerText.includes('signed-fn')"
            )  # lambda scope
            # The Logs tab's FilterLogEvents is signed for the logs scope, which the admin key's guard accepts:
            # the tab follows the function's log group (not a signature error, not the fallback).
            await page.press("signed-fn", "tbody a")
            await page.press("Logs", "[role=tab]")
            await page.until(
                "document.querySelector('#log-source')?.textContent.includes('/aws/lambda/signed-fn')"
            )
            assert await page.evaluate("document.querySelectorAll('main .error').length") == 0
            await page.press("Watch", "nav a")
            await page.until(
                "document.querySelector('main')?.innerText.includes('No requests to a stage yet')"
            )
            assert (
                await page.evaluate("document.querySelectorAll('main .error').length") == 0
            )  # /_apigate/ signed too

            await page.press("Sign out")
            await _sign_in(page, reader["AccessKeyId"], reader["SecretAccessKey"])
            await page.until(
                "document.querySelector('#apis-table')?.innerText.includes('made-in-the-console')"
            )
            await page.fill("API name", "not-allowed")
            await page.press("Create API")
            await page.until(
                "document.querySelector('.error')?.textContent.includes('not authorized to perform: apigateway:POST')"
            )

    asyncio.run(walk())
    names = sorted(a["name"] for a in apigw.get_rest_apis()["items"])  # type: ignore[attr-defined]
    assert names == ["made-in-the-console", "made-with-boto3"]
