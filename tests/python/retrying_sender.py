"""Sends N documents with deterministic ids (`k<n>`) to logward's `elasticsearch` input in bulk requests
of 500 with the official Python client, and retries each request until every item is accepted — through
connection errors, 429s and 503s while the agent is killed and restarted."""

import sys
import time

from elasticsearch import Elasticsearch

url, n = sys.argv[1], int(sys.argv[2])
es = Elasticsearch(url, request_timeout=60, max_retries=0)
for start in range(0, n, 500):
    ops = []
    for i in range(start, min(n, start + 500)):
        ops.append({"index": {"_index": "kill9", "_id": f"k{i}"}})
        ops.append({"message": f"kill9 {i}", "n": i})
    while True:
        try:
            answer = es.bulk(operations=ops)
            if not answer["errors"]:
                break
        except Exception as e:  # refused or cut connections while the agent restarts, 429, 503
            print(f"retrying from {start}: {type(e).__name__}", file=sys.stderr)
        time.sleep(0.2)
