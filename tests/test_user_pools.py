"""Local Cognito user pools through boto3's cognito-idp client, as an app's sign-in code calls Cognito: pools,
clients, users (admin-made and signed up), sign-in flows, the tokens' claims and signatures as a client checks
them (discovery document, JWKS), AWS's errors, and the pools surviving a restart of a template's gateway."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from helpers import GatewayProcess, wait_for

ADMIN = ("AKIAADMINEXAMPLE0002", "admin-secret-for-pool-tests")
CORPUS = Path(__file__).parent / "templates"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("user-pools"))
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def idp(gateway: GatewayProcess) -> Any:
    return gateway.client("cognito-idp")


def error_of(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def secret_hash(username: str, client: dict[str, Any]) -> str:
    digest = hmac.new(
        client["ClientSecret"].encode(), (username + client["ClientId"]).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def verified(gateway: GatewayProcess, pool_id: str, token: str) -> dict[str, Any]:
    """The token's claims, checked as an app checks a Cognito token: keys from the JWKS the pool's discovery
    document names, the issuer AWS would write."""
    discovery = requests.get(f"{gateway.url}/{pool_id}/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"
    keys = requests.get(discovery["jwks_uri"], timeout=10).json()["keys"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    key = jwt.PyJWK(jwk, algorithm="RS256").key
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["RS256"], issuer=discovery["issuer"], options={"verify_aud": False}
    )
    return claims


def test_admin_created_user_changes_a_temporary_password_then_signs_in(gateway: GatewayProcess, idp: Any) -> None:
    pool = idp.create_user_pool(PoolName="admins-made")["UserPool"]
    assert re.fullmatch(r"us-east-1_[A-Za-z0-9]{9}", pool["Id"])
    assert pool["Arn"] == f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{pool['Id']}"
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    assert re.fullmatch(r"[a-z0-9]{26}", client["ClientId"]) and "ClientSecret" not in client
    # AWS's default password policy: eight characters of four kinds.
    assert error_of(
        lambda: idp.admin_create_user(UserPoolId=pool["Id"], Username="ann", TemporaryPassword="short")
    ) == ("InvalidPasswordException", "Password did not conform with policy: Password not long enough")
    user = idp.admin_create_user(
        UserPoolId=pool["Id"],
        Username="ann",
        TemporaryPassword="Temp-Pass-1",
        UserAttributes=[{"Name": "email", "Value": "ann@example.com"}, {"Name": "email_verified", "Value": "true"}],
    )["User"]
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD" and user["Enabled"] is True
    assert error_of(lambda: idp.admin_create_user(UserPoolId=pool["Id"], Username="ann")) == (
        "UsernameExistsException",
        "User account already exists",
    )
    sign_in = {"USERNAME": "ann", "PASSWORD": "Temp-Pass-1"}
    challenge = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters=sign_in)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    tokens = idp.respond_to_auth_challenge(
        ClientId=client["ClientId"],
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ann", "NEW_PASSWORD": "Brand-New-2"},
    )["AuthenticationResult"]
    assert tokens["TokenType"] == "Bearer" and tokens["ExpiresIn"] == 3600
    identity = verified(gateway, pool["Id"], tokens["IdToken"])
    assert identity["token_use"] == "id" and identity["aud"] == client["ClientId"]
    assert identity["cognito:username"] == "ann" and identity["email"] == "ann@example.com"
    assert identity["email_verified"] is True and identity["exp"] - identity["iat"] == 3600
    access = verified(gateway, pool["Id"], tokens["AccessToken"])
    assert access["token_use"] == "access" and access["client_id"] == client["ClientId"]
    assert access["scope"] == "aws.cognito.signin.user.admin" and access["username"] == "ann"
    assert access["sub"] == identity["sub"] and "aud" not in access
    # The session answered its challenge once; the old password is gone.
    assert error_of(
        lambda: idp.respond_to_auth_challenge(
            ClientId=client["ClientId"],
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": "ann", "NEW_PASSWORD": "Brand-New-3"},
        )
    )[0] == "NotAuthorizedException"
    assert error_of(
        lambda: idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters=sign_in)
    ) == ("NotAuthorizedException", "Incorrect username or password.")
    me = idp.get_user(AccessToken=tokens["AccessToken"])
    assert me["Username"] == "ann"
    assert {a["Name"]: a["Value"] for a in me["UserAttributes"]}["sub"] == identity["sub"]
    assert error_of(lambda: idp.get_user(AccessToken=tokens["IdToken"])) == (
        "NotAuthorizedException",
        "Invalid Access Token",
    )
    refreshed = idp.initiate_auth(
        ClientId=client["ClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    assert verified(gateway, pool["Id"], refreshed["IdToken"])["sub"] == identity["sub"]
    assert error_of(
        lambda: idp.initiate_auth(
            ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": "made-up"}
        )
    ) == ("NotAuthorizedException", "Invalid Refresh Token")
    idp.admin_disable_user(UserPoolId=pool["Id"], Username="ann")
    assert error_of(
        lambda: idp.initiate_auth(
            ClientId=client["ClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ann", "PASSWORD": "Brand-New-2"},
        )
    ) == ("NotAuthorizedException", "User is disabled.")


def test_sign_up_with_a_client_secret_and_a_printed_confirmation_code(gateway: GatewayProcess, idp: Any) -> None:
    pool = idp.create_user_pool(
        PoolName="sign-ups",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Policies={"PasswordPolicy": {"MinimumLength": 10, "RequireSymbols": False}},
    )["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="server",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]
    email = "cy@example.com"
    assert error_of(
        lambda: idp.sign_up(ClientId=client["ClientId"], Username=email, Password="Longer-Pass1", SecretHash="AAAA")
    ) == ("NotAuthorizedException", f"Unable to verify secret hash for client {client['ClientId']}")
    assert error_of(
        lambda: idp.sign_up(
            ClientId=client["ClientId"], Username="not-an-email", Password="Longer-Pass1",
            SecretHash=secret_hash("not-an-email", client),
        )
    ) == ("InvalidParameterException", "Username should be an email.")
    signed_up = idp.sign_up(
        ClientId=client["ClientId"], Username=email, Password="Longer-Pass1", SecretHash=secret_hash(email, client)
    )
    assert signed_up["UserConfirmed"] is False
    assert signed_up["CodeDeliveryDetails"] == {
        "Destination": "c***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    password = {"USERNAME": email, "PASSWORD": "Longer-Pass1", "SECRET_HASH": secret_hash(email, client)}
    assert error_of(
        lambda: idp.admin_initiate_auth(
            UserPoolId=pool["Id"], ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters=password,
        )
    ) == ("UserNotConfirmedException", "User is not confirmed.")
    # No mail is sent: the gateway prints the code for whoever runs it.
    wait_for(lambda: any(f"confirmation code for {email}" in line for line in gateway.output), timeout=10)
    line = next(line for line in gateway.output if f"confirmation code for {email}" in line)
    code = line.rsplit(" ", 1)[1]
    wrong = "000000" if code != "000000" else "111111"
    assert error_of(
        lambda: idp.confirm_sign_up(
            ClientId=client["ClientId"], Username=email, ConfirmationCode=wrong, SecretHash=secret_hash(email, client)
        )
    )[0] == "CodeMismatchException"
    idp.confirm_sign_up(
        ClientId=client["ClientId"], Username=email, ConfirmationCode=code, SecretHash=secret_hash(email, client)
    )
    tokens = idp.admin_initiate_auth(
        UserPoolId=pool["Id"], ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters=password,
    )["AuthenticationResult"]
    identity = verified(gateway, pool["Id"], tokens["IdToken"])
    # Signing in by email: the username is the user's sub, the email an attribute (verified by the code).
    assert identity["cognito:username"] == identity["sub"] and identity["email"] == email
    assert identity["email_verified"] is True
    users = idp.list_users(UserPoolId=pool["Id"])["Users"]
    assert [u["UserStatus"] for u in users] == ["CONFIRMED"]
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["EstimatedNumberOfUsers"] == 1
    assert users[0]["Username"] == identity["sub"]
    # A second sign-up with the same email, and the flows a client does not allow.
    assert error_of(
        lambda: idp.sign_up(
            ClientId=client["ClientId"], Username=email, Password="Longer-Pass1", SecretHash=secret_hash(email, client)
        )
    )[0] == "UsernameExistsException"
    # An administrator confirms another sign-up instead of a code.
    other = "di@example.com"
    idp.sign_up(
        ClientId=client["ClientId"], Username=other, Password="Longer-Pass2", SecretHash=secret_hash(other, client)
    )
    idp.admin_confirm_sign_up(UserPoolId=pool["Id"], Username=other)
    assert error_of(lambda: idp.admin_confirm_sign_up(UserPoolId=pool["Id"], Username=other)) == (
        "NotAuthorizedException",
        "User cannot be confirmed. Current status is CONFIRMED",
    )
    signed_in = idp.initiate_auth(
        ClientId=client["ClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": other, "PASSWORD": "Longer-Pass2", "SECRET_HASH": secret_hash(other, client)},
    )["AuthenticationResult"]
    assert verified(gateway, pool["Id"], signed_in["IdToken"])["email"] == other
    plain = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="spa")["UserPoolClient"]
    assert plain["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH"]
    assert error_of(
        lambda: idp.initiate_auth(
            ClientId=plain["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": "Longer-Pass1"},
        )
    ) == ("InvalidParameterException", "USER_PASSWORD_AUTH flow not enabled for this client")


def test_unknown_pools_users_and_clients_answer_as_cognito_does(gateway: GatewayProcess, idp: Any) -> None:
    assert error_of(lambda: idp.describe_user_pool(UserPoolId="us-east-1_Missing00")) == (
        "ResourceNotFoundException",
        "User pool us-east-1_Missing00 does not exist.",
    )
    assert error_of(
        lambda: idp.initiate_auth(ClientId="nosuchclient", AuthFlow="USER_PASSWORD_AUTH", AuthParameters={})
    ) == ("ResourceNotFoundException", "User pool client nosuchclient does not exist.")
    pool = idp.create_user_pool(PoolName="lookups")["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]
    assert error_of(lambda: idp.admin_get_user(UserPoolId=pool["Id"], Username="nobody")) == (
        "UserNotFoundException",
        "User does not exist.",
    )
    ghost = {"USERNAME": "nobody", "PASSWORD": "Whatever-1"}
    assert error_of(
        lambda: idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters=ghost)
    ) == ("UserNotFoundException", "User does not exist.")
    idp.update_user_pool_client(
        UserPoolId=pool["Id"], ClientId=client["ClientId"], ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        PreventUserExistenceErrors="ENABLED",
    )
    assert error_of(
        lambda: idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters=ghost)
    ) == ("NotAuthorizedException", "Incorrect username or password.")
    listed = idp.list_user_pools(MaxResults=60)["UserPools"]
    assert pool["Id"] in {p["Id"] for p in listed}
    idp.delete_user_pool(UserPoolId=pool["Id"])
    assert requests.get(f"{gateway.url}/{pool['Id']}/.well-known/jwks.json", timeout=10).status_code == 404
    assert error_of(lambda: idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"]))[0] == (
        "ResourceNotFoundException"
    )


def test_sign_in_needs_no_credentials_and_administration_needs_the_admin_key(tmp_path: Path) -> None:
    process = GatewayProcess(tmp_path / "data", env={**os.environ, "APIGATE_ADMIN_KEY": ":".join(ADMIN)})
    process.start()
    try:

        def client(key: str, secret: str) -> Any:
            return boto3.client(
                "cognito-idp", endpoint_url=process.url, region_name="us-east-1",
                aws_access_key_id=key, aws_secret_access_key=secret,
            )

        admin, stranger = client(*ADMIN), client("AKIASTRANGER00000001", "not-the-key")
        assert error_of(lambda: stranger.create_user_pool(PoolName="p")) == (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
        pool = admin.create_user_pool(PoolName="guarded")["UserPool"]
        web = admin.create_user_pool_client(
            UserPoolId=pool["Id"], ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]
        assert error_of(lambda: stranger.admin_create_user(UserPoolId=pool["Id"], Username="x"))[0] == (
            "UnrecognizedClientException"
        )
        admin.admin_create_user(UserPoolId=pool["Id"], Username="dee", MessageAction="SUPPRESS")
        admin.admin_set_user_password(UserPoolId=pool["Id"], Username="dee", Password="Dee-Pass-1", Permanent=True)
        # A browser app's calls carry no AWS credentials at all (botocore sends these operations unsigned).
        anonymous = boto3.client(
            "cognito-idp", endpoint_url=process.url, region_name="us-east-1",
            config=Config(signature_version=UNSIGNED),
        )
        tokens = anonymous.initiate_auth(
            ClientId=web["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "dee", "PASSWORD": "Dee-Pass-1"},
        )["AuthenticationResult"]
        assert verified(process, pool["Id"], tokens["IdToken"])["cognito:username"] == "dee"
        assert error_of(lambda: anonymous.admin_get_user(UserPoolId=pool["Id"], Username="dee")) == (
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    finally:
        process.stop()


def test_a_template_pool_keeps_its_id_users_and_keys_across_restarts(tmp_path: Path) -> None:
    """Served again on the same data dir, the template's pool is the same pool: tokens handed out before the
    restart still pass its authorizer."""
    template = CORPUS / "cfn-cognito-rest" / "template.yaml"
    data = tmp_path / "data"

    def serve() -> tuple[GatewayProcess, dict[str, str]]:
        process = GatewayProcess(data, [str(template), "--no-watch"])
        process.start()
        # The last Output's line (lines arrive through a reader thread, the heading first).
        wait_for(lambda: any(line.startswith("  ProviderName: ") for line in process.output), timeout=20)
        lines = process.output[process.output.index("Outputs:") + 1 :]
        found = dict(line.strip().split(": ", 1) for line in lines if line.startswith("  "))
        return process, found

    first, outputs = serve()
    try:
        assert outputs["ProviderName"] == f"cognito-idp.us-east-1.amazonaws.com/{outputs['PoolId']}"
        idp = first.client("cognito-idp")
        idp.admin_create_user(UserPoolId=outputs["PoolId"], Username="eve@example.com", MessageAction="SUPPRESS")
        idp.admin_set_user_password(
            UserPoolId=outputs["PoolId"], Username="eve@example.com", Password="Eve-Pass-12", Permanent=True
        )
        token = idp.initiate_auth(
            ClientId=outputs["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "eve@example.com", "PASSWORD": "Eve-Pass-12"},
        )["AuthenticationResult"]["IdToken"]
        assert requests.get(outputs["Orders"], headers={"Authorization": token}, timeout=30).status_code == 200
    finally:
        first.stop()
    second, again = serve()
    try:
        assert (again["PoolId"], again["ClientId"]) == (outputs["PoolId"], outputs["ClientId"])
        answer = requests.get(again["Orders"], headers={"Authorization": token}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["owner"], answer.json()["use"]) == ("eve@example.com", "id")
    finally:
        second.stop()


def test_client_credentials_at_the_domain_host(gateway: GatewayProcess, idp: Any) -> None:
    """A resource server, a domain and a machine client made through the API; the token endpoint answered
    for ``Host: {domain}.auth.{region}.amazoncognito.com`` as on AWS."""
    pool = idp.create_user_pool(PoolName="machines")["UserPool"]["Id"]
    idp.create_resource_server(
        UserPoolId=pool, Identifier="https://api.example.com", Name="api",
        Scopes=[{"ScopeName": "items.read", "ScopeDescription": "read"}],
    )
    assert [s["Identifier"] for s in idp.list_resource_servers(UserPoolId=pool, MaxResults=10)["ResourceServers"]] == [
        "https://api.example.com"
    ]
    idp.create_user_pool_domain(UserPoolId=pool, Domain="m2m-tests")
    described = idp.describe_user_pool_domain(Domain="m2m-tests")["DomainDescription"]
    assert (described["UserPoolId"], described["Status"]) == (pool, "ACTIVE")
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="worker", GenerateSecret=True, AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthScopes=["https://api.example.com/items.read"],
    )["UserPoolClient"]
    host = "m2m-tests.auth.us-east-1.amazoncognito.com"
    answer = requests.post(
        f"{gateway.url}/oauth2/token",
        headers={"Host": host},
        data={"grant_type": "client_credentials"},  # no scope asked: all the client may have
        auth=(client["ClientId"], client["ClientSecret"]),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["expires_in"] == 3600
    claims = verified(gateway, pool, answer.json()["access_token"])
    assert claims["token_use"] == "access" and claims["sub"] == claims["client_id"] == client["ClientId"]
    assert claims["scope"] == "https://api.example.com/items.read"
    other_host = requests.post(
        f"{gateway.url}/oauth2/token", headers={"Host": "nobody.auth.us-east-1.amazoncognito.com"},
        data={"grant_type": "client_credentials"}, auth=(client["ClientId"], client["ClientSecret"]), timeout=10,
    )
    assert other_host.status_code == 404
    no_flow = idp.create_user_pool_client(UserPoolId=pool, ClientName="people", GenerateSecret=True)["UserPoolClient"]
    refused = requests.post(
        f"{gateway.url}/_aws/cognito-idp/m2m-tests/oauth2/token", data={"grant_type": "client_credentials"},
        auth=(no_flow["ClientId"], no_flow["ClientSecret"]), timeout=10,
    )
    assert (refused.status_code, refused.json()) == (400, {"error": "unauthorized_client"})


def test_groups_reach_the_tokens_in_precedence_order(gateway: GatewayProcess, idp: Any) -> None:
    pool = idp.create_user_pool(PoolName="grouped")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.create_group(UserPoolId=pool, GroupName="staff", Precedence=5)
    idp.create_group(UserPoolId=pool, GroupName="admins", Precedence=1, Description="all rights")
    idp.create_group(UserPoolId=pool, GroupName="guests")
    assert error_of(lambda: idp.create_group(UserPoolId=pool, GroupName="staff"))[0] == "GroupExistsException"
    idp.admin_create_user(UserPoolId=pool, Username="fay", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="fay", Password="Fay-Pass-1", Permanent=True)
    for group in ("guests", "staff", "admins"):
        idp.admin_add_user_to_group(UserPoolId=pool, Username="fay", GroupName=group)

    def tokens() -> dict[str, Any]:
        answer = idp.admin_initiate_auth(
            UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "fay", "PASSWORD": "Fay-Pass-1"},
        )
        return dict(answer["AuthenticationResult"])

    first = tokens()
    assert verified(gateway, pool, first["IdToken"])["cognito:groups"] == ["admins", "staff", "guests"]
    assert verified(gateway, pool, first["AccessToken"])["cognito:groups"] == ["admins", "staff", "guests"]
    listed = idp.admin_list_groups_for_user(UserPoolId=pool, Username="fay")["Groups"]
    assert [g["GroupName"] for g in listed] == ["admins", "staff", "guests"]
    assert [u["Username"] for u in idp.list_users_in_group(UserPoolId=pool, GroupName="staff")["Users"]] == ["fay"]
    idp.admin_remove_user_from_group(UserPoolId=pool, Username="fay", GroupName="staff")
    idp.delete_group(UserPoolId=pool, GroupName="guests")
    assert verified(gateway, pool, tokens()["IdToken"])["cognito:groups"] == ["admins"]
    assert error_of(lambda: idp.get_group(UserPoolId=pool, GroupName="guests")) == (
        "ResourceNotFoundException",
        "Group not found.",
    )


def test_forgotten_passwords_and_signing_out(gateway: GatewayProcess, idp: Any) -> None:
    pool = idp.create_user_pool(PoolName="resets")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(
        UserPoolId=pool, Username="gus", MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "gus@example.com"}],
    )
    idp.admin_set_user_password(UserPoolId=pool, Username="gus", Password="Gus-Pass-1", Permanent=True)

    def sign_in(password: str) -> dict[str, Any]:
        answer = idp.initiate_auth(
            ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "gus", "PASSWORD": password}
        )
        return dict(answer["AuthenticationResult"])

    def refresh(token: str) -> Any:
        return idp.initiate_auth(
            ClientId=client, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": token}
        )

    delivery = idp.forgot_password(ClientId=client, Username="gus")["CodeDeliveryDetails"]
    assert delivery["Destination"] == "g***@e***"
    wait_for(lambda: any("password reset code for gus" in line for line in gateway.output), timeout=10)
    code = next(line for line in gateway.output if "password reset code for gus" in line).rsplit(" ", 1)[1]
    wrong = "000000" if code != "000000" else "111111"
    assert error_of(
        lambda: idp.confirm_forgot_password(ClientId=client, Username="gus", ConfirmationCode=wrong, Password="Gus-Pass-2")
    )[0] == "CodeMismatchException"
    idp.confirm_forgot_password(ClientId=client, Username="gus", ConfirmationCode=code, Password="Gus-Pass-2")
    assert error_of(lambda: sign_in("Gus-Pass-1"))[0] == "NotAuthorizedException"
    first, second = sign_in("Gus-Pass-2"), sign_in("Gus-Pass-2")
    # RevokeToken ends one refresh token; GlobalSignOut every one the user holds.
    idp.revoke_token(ClientId=client, Token=first["RefreshToken"])
    assert error_of(lambda: refresh(first["RefreshToken"])) == ("NotAuthorizedException", "Invalid Refresh Token")
    assert refresh(second["RefreshToken"])["AuthenticationResult"]["IdToken"]
    third = sign_in("Gus-Pass-2")
    idp.global_sign_out(AccessToken=third["AccessToken"])
    for tokens in (second, third):
        assert error_of(lambda t=tokens: refresh(t["RefreshToken"]))[0] == "NotAuthorizedException"
    fourth = sign_in("Gus-Pass-2")
    idp.admin_user_global_sign_out(UserPoolId=pool, Username="gus")
    assert error_of(lambda: refresh(fourth["RefreshToken"]))[0] == "NotAuthorizedException"
