#!/usr/bin/env python3
"""Counts what the store's state tree rewrites per block, without a database.

A model of the tree the writer builds (storage/src/merkle): N random 64-bit keys (the store's
keys are SHA-256 hashes, uniform), each key's leaf at the shallowest nibble path no other key
shares, an internal node at every shorter prefix of it. A block changes 20,000 random existing
keys (10,000 transfers); every node on a changed key's path is rewritten, and its leaf.

Prints the internal nodes of the tree, the nodes a block rewrites, and the nodes a store that
persisted its tree only every K blocks would write per block (the distinct nodes K blocks
rewrite, once each). docs/benchmarks.md compares it with the store's own counts.

    python3 docs/scripts/tree_model.py 1000000    # 7 s
    python3 docs/scripts/tree_model.py 10000000   # 35 s, 2 GB
"""
import random
import sys

CHANGED = 20_000
BLOCKS = 64


def common_nibbles(a, b):
    x = a ^ b
    return 16 if x == 0 else (64 - x.bit_length()) // 4


def main(n):
    random.seed(1)
    keys = sorted(random.getrandbits(64) for _ in range(n))
    depth = []
    for i, k in enumerate(keys):
        shared = 0
        if i > 0:
            shared = max(shared, common_nibbles(k, keys[i - 1]))
        if i + 1 < n:
            shared = max(shared, common_nibbles(k, keys[i + 1]))
        depth.append(shared + 1)

    def prefix(k, d):
        return (d, k >> (64 - 4 * d) if d else 0)

    internal = {prefix(keys[i], d) for i in range(n) for d in range(depth[i])}
    print(f"{n} keys: {len(internal)} internal nodes")
    blocks = []
    for _ in range(BLOCKS):
        rewritten = set()
        for i in random.sample(range(n), CHANGED):
            rewritten.update(prefix(keys[i], d) for d in range(depth[i]))
            rewritten.add(("leaf", i))
        blocks.append(rewritten)
    for k in (1, 4, 16, 32, 64):
        groups = BLOCKS // k
        written = sum(len(set().union(*blocks[g * k:(g + 1) * k])) for g in range(groups))
        print(f"persisted every {k} blocks: {written / groups / k:.0f} nodes written per block")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
