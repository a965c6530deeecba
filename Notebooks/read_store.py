#!/usr/bin/env python3
"""Read a Kestrel store (LMDB) without Kestrel: header, items, paths, change log, vectors.

The layout is described in docs/store-format.md. Needs `pip install lmdb numpy`.

    python3 Notebooks/read_store.py path/to/catalog
"""
import os
import struct
import sys

import lmdb
import numpy as np

MAGIC = b"KESTRELS"
SCHEMA_VERSIONS = (1, 2)  # 2: log entries carry a 32-byte chain digest after kind and id


def u64be(b):
    return struct.unpack(">Q", b)[0]


class KestrelStore:
    def __init__(self, path, lock=True):
        self.env = lmdb.open(path, readonly=True, lock=lock, max_dbs=16, subdir=True)
        self.db = {
            name: self.env.open_db(name.encode(), create=False)
            for name in ["store", "items", "vectors", "paths", "hashes", "log", "meta"]
        }
        with self.env.begin() as txn:
            get = lambda key: txn.get(key.encode(), db=self.db["store"])
            if get("magic") != MAGIC:
                raise ValueError(f"{path} is not a Kestrel store (wrong magic)")
            version = struct.unpack("<I", get("schema_version"))[0]
            if version not in SCHEMA_VERSIONS:
                raise ValueError(f"{path} has schema version {version}, this reader knows {SCHEMA_VERSIONS}")
            self.model_name = get("model_name").decode()
            self.model_fingerprint = get("model_fingerprint").decode()
            self.dimension = struct.unpack("<I", get("dimension"))[0]
            self.vector_storage = get("vector_storage").decode()
            self.next_id = struct.unpack("<Q", get("next_id"))[0]
            self.last_sequence = struct.unpack("<Q", get("next_seq"))[0] - 1
        self.dtype = "<f4" if self.vector_storage == "f32" else "<f2"

    @staticmethod
    def decode_item(value):
        """The item record: version, sha256, size, width, height, paths, metadata."""
        assert value[0] == 1, "unknown item record version"
        sha = value[1:33].hex()
        size, width, height, n = struct.unpack_from("<QIII", value, 33)
        off, paths = 53, []
        for _ in range(n):
            (length,) = struct.unpack_from("<I", value, off)
            # Paths are bytes (docs/store-format.md): not always UTF-8. os.fsdecode gives a str
            # that os.fsencode turns back into the exact bytes (invalid bytes become surrogates).
            paths.append(os.fsdecode(value[off + 4 : off + 4 + length]))
            off += 4 + length
        metadata = None
        if value[off] == 1:
            (length,) = struct.unpack_from("<I", value, off + 1)
            metadata = value[off + 5 : off + 5 + length].decode()
            off += 4 + length
        assert off + 1 == len(value), "trailing bytes in item record"
        return {"sha256": sha, "size": size, "width": width, "height": height, "paths": paths, "metadata": metadata}

    def items(self):
        with self.env.begin() as txn:
            for key, value in txn.cursor(db=self.db["items"]):
                yield u64be(key), self.decode_item(bytes(value))

    def path(self, path):
        """(id, mtime_ns) for a path (str or bytes), or None."""
        with self.env.begin() as txn:
            value = txn.get(os.fsencode(path), db=self.db["paths"])
            return None if value is None else (u64be(value[:8]), struct.unpack("<q", value[8:16])[0])

    def changes(self, since=0):
        """[(sequence, 'added' | 'removed', id)] with sequence > since, oldest first."""
        kinds = {1: "added", 2: "removed"}
        out = []
        with self.env.begin() as txn:
            cursor = txn.cursor(db=self.db["log"])
            if cursor.set_range(struct.pack(">Q", since + 1)):
                for key, value in cursor:
                    out.append((u64be(key), kinds[value[0]], u64be(value[1:9])))
        return out

    def vectors(self):
        """(ids uint64 [n], float32 [n, dimension]) in id order."""
        ids, rows = [], []
        with self.env.begin() as txn:
            for key, value in txn.cursor(db=self.db["vectors"]):
                ids.append(u64be(key))
                rows.append(np.frombuffer(value, self.dtype).astype(np.float32))
        matrix = np.stack(rows) if rows else np.zeros((0, self.dimension), np.float32)
        return np.array(ids, dtype=np.uint64), matrix


if __name__ == "__main__":
    store = KestrelStore(sys.argv[1])
    print(f"model {store.model_name!r} ({store.model_fingerprint}), dimension {store.dimension}, {store.vector_storage}")
    print(f"last sequence {store.last_sequence}, next id {store.next_id}")
    for item_id, item in store.items():
        print(item_id, item["sha256"][:12], item["size"], f'{item["width"]}x{item["height"]}', item["paths"], item["metadata"] or "")
    ids, matrix = store.vectors()
    print("vectors", matrix.shape, "norms", np.linalg.norm(matrix, axis=1)[:5] if len(ids) else [])
    print("changes", store.changes()[:10])
