"""Ships documents to logward's `elasticsearch` input with the official Python client: the version
handshake, an index template, `helpers.bulk` and `helpers.streaming_bulk` (with one `update` item, which
logward refuses per item). Prints a JSON summary."""

import json
import sys

from elasticsearch import Elasticsearch, helpers

url, n = sys.argv[1], int(sys.argv[2])
es = Elasticsearch(url, request_timeout=120)
info = es.info()
alive = es.ping()
template = es.indices.put_index_template(
    name="logs", index_patterns=["logs-*"], template={"settings": {"number_of_shards": 1}}
)

bulk_ok, bulk_errors = helpers.bulk(
    es,
    ({"_index": "logs-bulk", "_id": f"b{i}", "message": f"bulk {i}"} for i in range(n)),
    chunk_size=100,
)

actions = [
    {"_index": "logs-stream", "_id": f"s{i}", "_source": {"message": f"stream {i}", "n": i}}
    for i in range(n)
]
actions.insert(10, {"_op_type": "update", "_index": "logs-stream", "_id": "s1", "doc": {"n": 0}})
streaming_ok = streaming_failed = 0
for ok, item in helpers.streaming_bulk(
    es, actions, chunk_size=200, raise_on_error=False, max_retries=5, initial_backoff=0.2
):
    if ok:
        streaming_ok += 1
    else:
        streaming_failed += 1

print(
    json.dumps(
        {
            "info_version": info["version"]["number"],
            "alive": alive,
            "template_ack": template["acknowledged"],
            "bulk_ok": bulk_ok,
            "bulk_errors": len(bulk_errors),
            "streaming_ok": streaming_ok,
            "streaming_failed": streaming_failed,
        }
    )
)
