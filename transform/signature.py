"""Exact and near-duplicate signatures of an article body.

`content_hash` is equal for equal bodies. `near_duplicate_keys` are MinHash LSH band keys
(datasketch's MinHash over word 3-shingles of the body, folded so that transliterated copies meet): two bodies whose shingle sets
have a Jaccard similarity s share at least one key with probability 1 - (1 - s^ROWS)^BANDS:
about 0.99 at s = 0.7 (a syndicated copy with other boilerplate), 0.1 at s = 0.3. The worker
stays stateless: the index finds candidates by these keys where the articles live.
"""

import hashlib

from datasketch import MinHash

PERMUTATIONS = 64
BANDS, ROWS = 16, 4  # BANDS × ROWS = PERMUTATIONS
SHINGLE = 3
SEED = 1  # fixed: keys must be comparable across processes, restarts and versions
# Named, not left to datasketch: its default went from "legacy" to "affine32" in 2.0, which changed every key.
SCHEME = "affine32"


def content_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def near_duplicate_keys(folded_body: str) -> list[str]:
    """Band keys of a body already folded by `newsflow.folding.fold`."""
    words = folded_body.split()
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
    minhash = MinHash(num_perm=PERMUTATIONS, seed=SEED, scheme=SCHEME)
    minhash.update_batch([shingle.encode() for shingle in shingles])
    return [
        f"{band:02d}-" + hashlib.blake2b(minhash.hashvalues[band * ROWS : (band + 1) * ROWS].tobytes(), digest_size=8).hexdigest()
        for band in range(BANDS)
    ]
