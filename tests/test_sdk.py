"""GetSdkTypes, GetSdkType and GetSdk: the generated JavaScript, TypeScript and Python clients call every method of
a live stage (models, path and query parameters, an API-key method, an IAM method) and get the right answers."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from helpers import GatewayProcess
from sdk_fixture import PetsApi, build_pets_api
from sdk_tools import NODE, run, tsc

# What every client must see, method by method (the function answers from the request it got).
EXPECTED = {
    "dogs": [{"id": 1, "name": "rex", "tag": "dog"}],
    "all": [{"id": 1, "name": "rex", "tag": "dog"}, {"id": 2, "name": "tom", "tag": "cat"}],
    "created": {"id": 3, "name": "kit", "tag": "cat"},
    "one": {"id": 2, "name": "tom", "tag": "cat"},
    "secret": {"message": "key "},  # + the key's first four characters
    "admin": {"message": "hello "},  # + the signer's ARN
    "no_key_status": 403,
    "bad_signature_status": 403,
}


@pytest.fixture(scope="module")
def pets(gateway: GatewayProcess, apigw: Any, lam: Any) -> PetsApi:
    return build_pets_api(apigw, lam, gateway.client("iam"))


def expected(pets: PetsApi) -> dict[str, Any]:
    return {
        **EXPECTED,
        "secret": {"message": "key " + pets.api_key[:4]},
        "admin": {"message": "hello " + pets.user_arn},
    }


def unpack(apigw: Any, pets: PetsApi, kind: str, into: Path) -> Path:
    answer = apigw.get_sdk(restApiId=pets.api.id, stageName=pets.stage, sdkType=kind)
    assert answer["contentType"] == "application/octet-stream"
    assert answer["contentDisposition"] == f'attachment; filename="{kind}_{pets.stage}.zip"'
    with zipfile.ZipFile(io.BytesIO(answer["body"].read())) as archive:
        archive.extractall(into)
        (folder,) = {name.split("/")[0] for name in archive.namelist()}
    return into / folder


def test_sdk_types(apigw: Any, pets: PetsApi) -> None:
    types = {item["id"]: item for item in apigw.get_sdk_types()["items"]}
    # Ours, and OpenAPI Generator's (the 'sdk' extra, in the test extra; .ci/run installs a Java runtime).
    assert set(types) == {"javascript", "typescript", "python", "java", "android", "objectivec", "swift", "ruby"}
    assert apigw.get_sdk_type(id="javascript")["friendlyName"] == "JavaScript"
    java = apigw.get_sdk_type(id="java")
    assert "javaGroupId" in {p["name"] for p in java["configurationProperties"]}
    with pytest.raises(ClientError) as unknown_type:
        apigw.get_sdk(restApiId=pets.api.id, stageName=pets.stage, sdkType="cobol")
    assert unknown_type.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError) as unknown:
        apigw.get_sdk(restApiId=pets.api.id, stageName="nope", sdkType="javascript")
    assert unknown.value.response["Error"]["Code"] == "NotFoundException"


def test_openapi_generator_types(apigw: Any, pets: PetsApi, tmp_path: Path) -> None:
    """ruby and java through OpenAPI Generator, offline: operations named as AWS names them, the models."""
    answer = apigw.get_sdk(
        restApiId=pets.api.id,
        stageName=pets.stage,
        sdkType="ruby",
        parameters={"ruby.gem-name": "pets_client", "ruby.module-name": "PetsClient"},
    )
    with zipfile.ZipFile(io.BytesIO(answer["body"].read())) as archive:
        names = archive.namelist()
        api = next(n for n in names if n.endswith("api/default_api.rb"))
        source = archive.read(api).decode()
    assert "apiGateway-ruby-sdk/lib/pets_client/models/pet.rb" in names
    for method in ("def pets_get(", "def pets_id_get(", "def admin_get(", "def secret_get("):
        assert method in source
    answer = apigw.get_sdk(
        restApiId=pets.api.id, stageName=pets.stage, sdkType="java", parameters={"javaGroupId": "com.example"}
    )
    with zipfile.ZipFile(io.BytesIO(answer["body"].read())) as archive:
        pom = archive.read("apiGateway-java-sdk/pom.xml").decode()
        assert any(n.endswith("/model/Pet.java") for n in archive.namelist())
    assert "<groupId>com.example</groupId>" in pom


JS_USE = """
const factory = require(%(client)s);
const config = %(config)s;
const client = factory.newClient(config);
(async () => {
  const out = {};
  out.dogs = (await client.petsGet({type: 'dog'}, {}, {})).data;
  out.all = (await client.petsGet({}, {}, {})).data;
  out.created = (await client.petsPost({}, {name: 'kit', tag: 'cat'}, {})).data;
  out.one = (await client.petsIdGet({id: '2'}, {}, {})).data;
  out.secret = (await client.secretGet({}, {}, {})).data;
  out.admin = (await client.adminGet({}, {}, {})).data;
  try { await factory.newClient({}).secretGet({}, {}, {}); } catch (e) { out.no_key_status = e.response.status; }
  try {
    await factory.newClient(Object.assign({}, config, {secretKey: 'wrong'})).adminGet({}, {}, {});
  } catch (e) { out.bad_signature_status = e.response.status; }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_javascript_sdk_calls_every_method(apigw: Any, pets: PetsApi, tmp_path: Path) -> None:
    assert NODE is not None, "node is needed (apt-get install nodejs; .ci/run installs it)"
    folder = unpack(apigw, pets, "javascript", tmp_path)
    source = (folder / "apigClient.js").read_text()
    assert "apigClientFactory.newClient = function (config)" in source
    for name in ("petsGet", "petsPost", "petsIdGet", "secretGet", "adminGet"):
        assert f"apigClient.{name} = function (params, body, additionalParams)" in source
    config = {"apiKey": pets.api_key, "accessKey": pets.access_key, "secretKey": pets.secret_key, "region": "us-east-1"}
    script = tmp_path / "use.js"
    script.write_text(JS_USE % {"client": json.dumps(str(folder / "apigClient.js")), "config": json.dumps(config)})
    assert json.loads(run([NODE, str(script)])) == expected(pets)


TS_USE = """
import { ApiClient, ApiError, Pet, Message } from "./client";
declare const process: { exit(code: number): never };
const config = %(config)s;
async function main(): Promise<void> {
  const client = new ApiClient(config);
  const dogs: Pet[] = (await client.petsGet({ type: "dog" })).data;
  const all: Pet[] = (await client.petsGet()).data;
  const created: Pet = (await client.petsPost({ name: "kit", tag: "cat" })).data;
  const one: Pet = (await client.petsIdGet({ id: "2" })).data;
  const secret: Message = (await client.secretGet()).data;
  const admin: Message = (await client.adminGet()).data;
  let noKey = 0;
  let badSignature = 0;
  try { await new ApiClient().secretGet(); } catch (e) { if (e instanceof ApiError) noKey = e.status; }
  try {
    await new ApiClient({ ...config, credentials: { ...config.credentials, secretKey: "wrong" } }).adminGet();
  } catch (e) { if (e instanceof ApiError) badSignature = e.status; }
  console.log(JSON.stringify({ dogs, all, created, one, secret, admin, no_key_status: noKey,
                               bad_signature_status: badSignature }));
}
main().catch((e: unknown) => { console.error(e); process.exit(1); });
"""


def test_typescript_sdk_compiles_strict_and_calls_every_method(apigw: Any, pets: PetsApi, tmp_path: Path) -> None:
    assert NODE is not None, "node is needed (apt-get install nodejs; .ci/run installs it)"
    compiler = tsc()
    folder = unpack(apigw, pets, "typescript", tmp_path)
    source = (folder / "client.ts").read_text()
    assert "export interface Pet {" in source and "export interface NewPet {" in source
    config = {"apiKey": pets.api_key, "credentials": {"accessKey": pets.access_key, "secretKey": pets.secret_key}}
    (folder / "use.ts").write_text(TS_USE % {"config": json.dumps(config)})
    options = ["--strict", "--target", "es2022", "--module", "commonjs", "--lib", "es2022,dom", "--outDir", "out"]
    run([str(compiler), *options, "client.ts", "use.ts"], cwd=folder)
    assert json.loads(run([NODE, str(folder / "out" / "use.js")])) == expected(pets)
    # A wrong type is a compile error: the models are real types.
    (folder / "wrong.ts").write_text('import { Pet } from "./client";\nexport const p: Pet = { id: "1", name: 2 };\n')
    wrong = subprocess.run([str(compiler), *options, "wrong.ts"], cwd=folder, capture_output=True, text=True)
    assert wrong.returncode != 0 and "not assignable" in wrong.stdout


PY_USE = """
from __future__ import annotations

import json
from typing import Any

from client import ApiClient, ApiError, Credentials, Message, NewPet, Pet

client = ApiClient(api_key=%(key)r, credentials=Credentials(%(access)r, %(secret)r))
dogs: list[Pet] = client.pets_get(type="dog").data
everyone: list[Pet] = client.pets_get().data
created: Pet = client.pets_post(body=NewPet(name="kit", tag="cat")).data
one: Pet = client.pets_id_get("2").data
secret: Message = client.secret_get().data
admin: Message = client.admin_get().data
out: dict[str, Any] = {
    "dogs": [p.to_dict() for p in dogs],
    "all": [p.to_dict() for p in everyone],
    "created": created.to_dict(),
    "one": one.to_dict(),
    "secret": secret.to_dict(),
    "admin": admin.to_dict(),
}
try:
    ApiClient().secret_get()
except ApiError as error:
    out["no_key_status"] = error.status
try:
    ApiClient(credentials=Credentials(%(access)r, "wrong")).admin_get()
except ApiError as error:
    out["bad_signature_status"] = error.status
print(json.dumps(out))
"""


def test_python_sdk_passes_mypy_strict_and_calls_every_method(apigw: Any, pets: PetsApi, tmp_path: Path) -> None:
    folder = unpack(apigw, pets, "python", tmp_path)
    source = (folder / "client.py").read_text()
    assert "class Pet:" in source and "def pets_id_get(" in source
    assert "DEFAULT_BASE_URL = 'http://127.0.0.1:" in source  # the stage's invoke URL
    use = folder / "use.py"
    use.write_text(PY_USE % {"key": pets.api_key, "access": pets.access_key, "secret": pets.secret_key})
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "client.py", "use.py"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout
    assert json.loads(run([sys.executable, str(use)], cwd=folder)) == expected(pets)


def test_cli_writes_an_sdk(gateway: GatewayProcess, pets: PetsApi, tmp_path: Path) -> None:
    out = tmp_path / "sdk"
    base = [sys.executable, "-m", "apigate.cli"]
    printed = run([*base, "sdk", pets.api.id, pets.stage, "--type", "python", "--out", str(out), "--endpoint", gateway.url])
    assert str(out / "apigate-python-sdk" / "client.py") in printed
    assert (out / "apigate-python-sdk" / "client.py").read_text().startswith('"""')
    refused = subprocess.run(
        [*base, "sdk", pets.api.id, pets.stage, "--type", "cobol", "--out", str(out), "--endpoint", gateway.url],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1 and "NotFoundException" in refused.stderr
