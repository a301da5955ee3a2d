"""Private custom domain names and their access associations (CreateDomainNameAccessAssociation & co; issue 23,
class 6): a private domain answers only through a VPC endpoint associated with it (apigate's private listener)
and only for calls its resource policy allows; it serves private APIs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
import requests

from helpers import GatewayProcess, RestApi, wait_for

VPCE = "vpce-0a1b2c3d4e5f60799"
DOMAIN = "private.example.test"


def policy(vpce: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*",
                },
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*",
                    "Condition": {"StringNotEquals": {"aws:SourceVpce": vpce}},
                },
            ],
        }
    )


class Listeners:
    def __init__(self, process: GatewayProcess, private_url: str) -> None:
        self.process = process
        self.private_url = private_url

    def get(self, path: str, *, private: bool) -> requests.Response:
        base = self.private_url if private else self.process.url
        return requests.get(f"{base}{path}", headers={"Host": DOMAIN}, timeout=5)


@pytest.fixture(scope="module")
def listeners(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listeners]:
    data: Path = tmp_path_factory.mktemp("private-domains")
    process = GatewayProcess(data, ["--private-listen", "127.0.0.1:0", "--vpce-id", VPCE])
    process.start()
    wait_for(lambda: any("private endpoint" in line for line in process.output))
    line = next(line for line in process.output if "private endpoint" in line)
    yield Listeners(process, line.rsplit(" on ", 1)[1])
    process.stop()


def error_of(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**kwargs)
    answer = caught.value.response
    return answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"]


def test_a_private_domain_answers_only_through_an_associated_endpoint(listeners: Listeners) -> None:
    apigw = listeners.process.client("apigateway")
    certificate = listeners.process.client("acm").request_certificate(DomainName=DOMAIN)["CertificateArn"]
    api = RestApi(
        apigw, "private-behind-domain", endpointConfiguration={"types": ["PRIVATE"]}, policy=policy(VPCE)
    )
    api.mock("/pets", "GET", '{"pets": []}')
    api.deploy("prod")

    domain = apigw.create_domain_name(
        domainName=DOMAIN,
        certificateArn=certificate,
        endpointConfiguration={"types": ["PRIVATE"]},
        policy=policy(VPCE),
    )
    domain_id, domain_arn = domain["domainNameId"], domain["domainNameArn"]
    assert domain_arn == f"arn:aws:apigateway:us-east-1:000000000000:/domainnames/{DOMAIN}+{domain_id}"
    assert domain["endpointConfiguration"]["types"] == ["PRIVATE"]
    assert "regionalDomainName" not in domain
    stored = json.loads(domain["policy"].replace("\\/", "/"))
    assert stored["Statement"][0]["Resource"] == (
        f"arn:aws:execute-api:us-east-1:000000000000:/domainnames/{DOMAIN}+{domain_id}/*"
    )
    apigw.create_base_path_mapping(domainName=DOMAIN, domainNameId=domain_id, restApiId=api.id, stage="prod")

    # No association yet: the endpoint does not reach the domain; the public listener never does.
    assert listeners.get("/pets", private=True).status_code == 403
    association = apigw.create_domain_name_access_association(
        domainNameArn=domain_arn, accessAssociationSourceType="VPCE", accessAssociationSource=VPCE
    )
    assert association["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert association["domainNameAccessAssociationArn"] == (
        f"arn:aws:apigateway:us-east-1:000000000000:/domainnameaccessassociations/domainname/"
        f"{DOMAIN}+{domain_id}/vpcesource/{VPCE}"
    )
    served = listeners.get("/pets", private=True)
    assert served.status_code == 200 and served.json() == {"pets": []}
    assert listeners.get("/pets", private=False).status_code == 403

    listed = apigw.get_domain_name_access_associations()["items"]
    assert [a["accessAssociationSource"] for a in listed] == [VPCE]
    assert apigw.get_domain_name_access_associations(resourceOwner="OTHER_ACCOUNTS").get("items", []) == []
    assert error_of(
        apigw.create_domain_name_access_association,
        domainNameArn=domain_arn,
        accessAssociationSourceType="VPCE",
        accessAssociationSource=VPCE,
    ) == ("ConflictException", 409)

    # The domain's policy decides too: one that admits another endpoint only keeps this one out.
    apigw.update_domain_name(
        domainName=DOMAIN,
        domainNameId=domain_id,
        patchOperations=[{"op": "replace", "path": "/policy", "value": policy("vpce-0000000000000000f")}],
    )
    assert listeners.get("/pets", private=True).status_code == 403
    apigw.update_domain_name(
        domainName=DOMAIN,
        domainNameId=domain_id,
        patchOperations=[{"op": "replace", "path": "/policy", "value": policy(VPCE)}],
    )
    assert listeners.get("/pets", private=True).status_code == 200

    apigw.reject_domain_name_access_association(
        domainNameAccessAssociationArn=association["domainNameAccessAssociationArn"], domainNameArn=domain_arn
    )
    assert listeners.get("/pets", private=True).status_code == 403
    again = apigw.create_domain_name_access_association(
        domainNameArn=domain_arn, accessAssociationSourceType="VPCE", accessAssociationSource=VPCE
    )
    apigw.delete_domain_name_access_association(
        domainNameAccessAssociationArn=again["domainNameAccessAssociationArn"]
    )
    assert apigw.get_domain_name_access_associations().get("items", []) == []


def test_access_associations_refuse_what_aws_refuses(listeners: Listeners) -> None:
    apigw = listeners.process.client("apigateway")
    certificate = listeners.process.client("acm").request_certificate(DomainName="public.example.test")[
        "CertificateArn"
    ]
    public = apigw.create_domain_name(
        domainName="public.example.test",
        regionalCertificateArn=certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
    )
    assert "domainNameId" not in public
    bad_arn = "arn:aws:apigateway:us-east-1:000000000000:/domainnames/public.example.test+abc"
    assert error_of(
        apigw.create_domain_name_access_association,
        domainNameArn=bad_arn,
        accessAssociationSourceType="VPCE",
        accessAssociationSource=VPCE,
    ) == ("NotFoundException", 404)
    assert error_of(
        apigw.delete_domain_name_access_association,
        domainNameAccessAssociationArn=f"{bad_arn}/vpcesource/{VPCE}",
    ) == ("NotFoundException", 404)
    assert error_of(apigw.get_domain_name_access_associations, resourceOwner="ANYONE") == (
        "BadRequestException",
        400,
    )
