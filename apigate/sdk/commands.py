"""``apigate sdk`` and ``apigate docs``: GetSdk unpacked into a folder, and a stage's reference page."""

from __future__ import annotations

import argparse
import io
import zipfile
from typing import Any


def run(args: argparse.Namespace, apigw: Any, api_id: str) -> int:
    if args.command == "sdk":
        answer = apigw.get_sdk(restApiId=api_id, stageName=args.stage, sdkType=args.type)
        body = answer["body"]
        data: bytes = body.read() if hasattr(body, "read") else body
        args.out.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(args.out)  # zipfile drops absolute paths and ".." parts
            for name in archive.namelist():
                print(args.out / name)
        return 0
    if args.output is not None:
        exported = apigw.get_export(
            restApiId=api_id,
            stageName=args.stage,
            exportType="oas30",
            parameters={"extensions": "documentation"},
        )
        body = exported["body"]
        args.output.write_bytes(body.read() if hasattr(body, "read") else body)
    print(f"{args.endpoint.rstrip('/')}/_apigate/docs/{api_id}/{args.stage}")
    return 0
