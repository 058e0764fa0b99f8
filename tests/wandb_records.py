"""Read back what a W&B run logged from its local ``run-<id>.wandb`` file (tests only).

The file is a LevelDB-style log: a 7-byte file header (":W&B", magic 0xBEE1, version), then
32 KiB blocks of records, each ``crc32c (4) | length (2, LE) | type (1)`` followed by ``length``
bytes of a protobuf ``Record``; type 1 is a whole record, 2/3/4 the first/middle/last piece of
one that spans blocks.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32768
HEADER = 7


def records(path: Path) -> list[pb.Record]:
    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file")
    pos, pieces, out = HEADER, b"", []
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # the block's tail is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if length == 0 and kind == 0:
            pos += left
            continue
        body = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        pieces = body if kind in (1, 2) else pieces + body
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pieces)
            out.append(record)
            pieces = b""
    return out


def logged(path: Path) -> dict:
    """{"history": [row dicts], "summary": {...}, "config": {...}, "run": Record.run}.

    A run trained in this process (the tests' in-process ``train.py``) shares W&B's service with
    later runs: its file is complete once the service has shut down, as it has when a real
    ``python train.py`` exits, so the service is shut down first (the next run starts another)."""
    import wandb

    wandb.teardown()
    result: dict = {"history": [], "summary": {}, "config": {}, "run": None}
    for r in records(path):
        kind = r.WhichOneof("record_type")
        if kind == "history":
            result["history"].append(
                {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
            )
        elif kind == "summary":
            result["summary"].update(
                {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.summary.update}
            )
        elif kind == "config":
            result["config"].update(
                {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.config.update}
            )
        elif kind == "run":
            result["run"] = r.run
            result["config"].update({i.key: json.loads(i.value_json) for i in r.run.config.update})
    return result
