"""Read every record of a Kinesis stream back, shard by shard from the oldest, and print them.

    python examples/kinesis-ingest/consumer.py clicks --endpoint-url http://127.0.0.1:5000

One line per record: partition key, sequence number, data (as text). With --count, only the number of records.
The endpoint defaults to AWS_ENDPOINT_URL_KINESIS / AWS_ENDPOINT_URL, as for any boto3 client.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import Any

import boto3


def records(kinesis: Any, stream: str) -> Iterator[dict[str, Any]]:
    """Every record of every shard, oldest first, until each shard is read to its end."""
    shards = kinesis.list_shards(StreamName=stream)["Shards"]
    for shard in shards:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            yield from page["Records"]
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break  # caught up with the shard's end
            iterator = page.get("NextShardIterator")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stream")
    parser.add_argument("--endpoint-url", default=None)
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--count", action="store_true", help="print only how many records there are")
    args = parser.parse_args(argv)
    kinesis = boto3.client(
        "kinesis",
        endpoint_url=args.endpoint_url,
        region_name=args.region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )
    count = 0
    for record in records(kinesis, args.stream):
        count += 1
        if not args.count:
            data = record["Data"].decode("utf-8", errors="replace")
            print(f"{record['PartitionKey']}\t{record['SequenceNumber']}\t{data}")
    if args.count:
        print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
