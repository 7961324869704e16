#!/usr/bin/env python3
"""What compaction of a log-structured node file costs, without a database.

The layout planned for the store's tree (docs/storage.md, "The node file"): a block's new
nodes appended to segment files, parents holding their children's addresses. A node is live
while the head's tree holds it; a segment whose nodes are all dead is deleted once the history
window (4 blocks) has passed it. Cold nodes keep old segments alive, so compaction moves them:
the live nodes of the segment with the least live data are written again in the next block's
append, and because a parent holds its child's address, so is every ancestor the block did not
rewrite anyway (same hashes, new addresses). Compaction runs while the file is larger than
FACTOR times the live tree, up to a budget of bytes per block.

A model of the tree as docs/scripts/tree_model.py builds it: N random keys, each leaf at the
shallowest nibble path no other key shares; blocks of 20,000 random existing keys (transfers:
the shape does not change). Record sizes: a leaf with an account value 108 bytes, an internal
node 24 + 52 per child (hash, version, leaf count, address), headers included; the load is
written as one first segment.

Prints the live tree, then for each (factor, budget): the file's size every 25 blocks as a
multiple of the live tree, what blocks and compaction write per block, and the largest file.

    python3 docs/scripts/node_file_compaction.py 1000000 200 32        # keys, blocks, segment MiB: ~6 min
    python3 docs/scripts/node_file_compaction.py 1000000 200 32 cold   # moved nodes in segments of their own
    python3 docs/scripts/node_file_compaction.py 1000000 200 32 cold,leafindex   # and leaves by index
"""
import random, sys
from collections import defaultdict
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
K = 20_000
BLOCKS = int(sys.argv[2]) if len(sys.argv) > 2 else 200
SEG = int(sys.argv[3]) << 20 if len(sys.argv) > 3 else 32 << 20
WINDOW = 4
# "cold": a moved node goes to a segment of moved nodes only (its ancestors stay with the block's)
COLD = len(sys.argv) > 4 and "cold" in sys.argv[4].split(",")
# "leafindex": leaves found through an index (their address kept with the latest value, say), so
# a moved leaf rewrites no ancestor; the index's own writes are not counted
LEAF_INDEX = len(sys.argv) > 4 and "leafindex" in sys.argv[4].split(",")
random.seed(7)
keys = [random.getrandbits(64) for _ in range(N)]
# count of keys per prefix at each level
counts = [defaultdict(int) for _ in range(17)]
for k in keys:
    for L in range(17):
        counts[L][k >> (64 - 4 * L) if L else 0] += 1
node_id = {}
size = []
parent = []
children = defaultdict(set)
paths = []
def nid(L, p):
    key = (L, p)
    i = node_id.get(key)
    if i is None:
        i = len(size); node_id[key] = i; size.append(0); parent.append(-1)
    return i
for k in keys:
    path = []
    L = 0
    while True:
        p = k >> (64 - 4 * L) if L else 0
        i = nid(L, p)
        if path:
            parent[i] = path[-1]
            children[path[-1]].add(i)
        path.append(i)
        if counts[L][p] == 1:
            size[i] = 8 + 100  # a leaf with an account value, record header
            break
        L += 1
    paths.append(path)
for i, ch in children.items():
    size[i] = 8 + 16 + 52 * len(ch)  # header, bitmaps + key, per child hash/version/count/address
internal = len(children); leaves = len(size) - internal
live_total = sum(size)
print(f"{N} keys: {internal} internal nodes, {leaves} leaves, live tree {live_total/2**20:.0f} MiB")

def run(factor, budget_per_block):
    seg_of = [0] * len(size)
    seg_live = defaultdict(int); seg_total = defaultdict(int)
    seg_live[0] = live_total; seg_total[0] = live_total  # the load, written as segment 0
    cur = 1; seg_total[cur] = 0; seg_live[cur] = 0
    cold = 2; seg_total[cold] = 0; seg_live[cold] = 0
    next_id = 3
    written_blocks = 0; written_moves = 0
    dead_since = {}
    disk_max = 0
    trace = []
    for b in range(BLOCKS):
        touched = set()
        for ki in random.sample(range(N), K):
            touched.update(paths[ki])
        own = sum(size[i] for i in touched)
        # compaction: relocate the live nodes of the emptiest sealed segment while the file is
        # more than `factor` times the live tree
        moved = set(); moved_self = set()
        disk = sum(seg_total.values())
        if disk > factor * live_total:
            sealed = [s for s in seg_live if s not in (cur, cold) and seg_live[s] > 0]
            if sealed:
                victim = min(sealed, key=lambda s: seg_live[s] / max(1, seg_total[s]))
                if seg_live[victim] > 0:
                    cand = [i for i in range(len(size)) if seg_of[i] == victim and i not in touched]
                    random.shuffle(cand)
                    acc = 0
                    for i in cand:
                        if acc > budget_per_block: break
                        j = i
                        moved_self.add(i)
                        while j != -1 and j not in touched and j not in moved:
                            moved.add(j); acc += size[j]; j = parent[j]
                            if LEAF_INDEX and i not in children:
                                break
        for i in touched | moved:
            to = cold if COLD and i in moved_self and i not in touched else cur
            seg_live[seg_of[i]] -= size[i]
            seg_of[i] = to
            seg_live[to] += size[i]
            seg_total[to] += size[i]
        written_blocks += own
        written_moves += sum(size[i] for i in moved)
        # segments with nothing live are removed once the window has passed them
        for s in [s for s in seg_live if s not in (cur, cold) and seg_live[s] == 0]:
            dead_since.setdefault(s, b)
            if b - dead_since[s] >= WINDOW:
                del seg_live[s]; del seg_total[s]
        if seg_total[cur] >= SEG:
            cur = next_id; next_id += 1; seg_live[cur] = 0; seg_total[cur] = 0
        if seg_total[cold] >= SEG:
            cold = next_id; next_id += 1; seg_live[cold] = 0; seg_total[cold] = 0
        disk_now = sum(seg_total.values())
        disk_max = max(disk_max, disk_now)
        if b % 25 == 24: trace.append(round(disk_now / live_total, 1))
    print('  file / live every 25 blocks:', trace)
    return written_blocks, written_moves, disk_max
for factor, budget in [(1.5, 64 << 20), (2.0, 32 << 20), (3.0, 16 << 20), (4.0, 8 << 20)]:
    wb, wm, dmax = run(factor, budget)
    print(f"file <= {factor}x live, relocation budget {budget>>20} MiB/block: blocks write {wb/BLOCKS/2**20:.1f} MiB/block,"
          f" compaction {wm/BLOCKS/2**20:.2f} MiB/block (+{100*wm/wb:.0f}%), largest file {dmax/2**20:.0f} MiB ({dmax/live_total:.1f}x live)")
    sys.stdout.flush()
