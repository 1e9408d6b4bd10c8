#!/usr/bin/env python3
"""Add the most useful inputs a fuzzing run found to a repository corpus, keeping it small.

usage: fuzz/grow_corpus.py NAME [--build build-fuzz] [--max 100]

Every file already in fuzz/corpus/NAME/ stays. From BUILD/corpus/NAME/ (where make fuzz puts
new inputs), files are added one at a time, each time the one that covers the most code edges
not covered yet, until nothing new is covered or the corpus holds --max files. (libFuzzer's
-merge=1 keeps every input that adds any feature, which is hundreds of files for the request
parser; this is the same merge's per-file coverage, chosen greedily.) Added files are named
found-<hash prefix>. Needs the libFuzzer build (make fuzz, or FUZZ_SECONDS=0 make fuzz).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("name")
    ap.add_argument("--build", default="build-fuzz")
    ap.add_argument("--max", type=int, default=100)
    args = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = os.path.join(root, args.build)
    fuzzer = os.path.join(build, "fuzz", "fuzz_" + args.name)
    seeds = os.path.join(root, "fuzz", "corpus", args.name)
    found = os.path.join(build, "corpus", args.name)
    for path in (fuzzer, seeds, found):
        if not os.path.exists(path):
            sys.exit("grow_corpus: %s is missing (run make fuzz first)" % path)

    with tempfile.TemporaryDirectory() as tmp:
        # Merge into a copy of the seeds, so that they count as the corpus already there; the
        # control file records which edges (COV lines) each input reaches.
        base = os.path.join(tmp, "base")
        shutil.copytree(seeds, base)
        control = os.path.join(tmp, "control")
        subprocess.run([fuzzer, "-merge=1", "-use_counters=0", "-merge_control_file=" + control,
                        base, found], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        lines = open(control).read().split("\n")

    n_files, n_seeds = int(lines[0]), int(lines[1])
    files = lines[2:2 + n_files]
    edges = {}
    for line in lines[2 + n_files:]:
        words = line.split()
        if words and words[0] == "COV":
            edges[int(words[1])] = set(words[2:])
    covered = set()
    for i in range(n_seeds):
        covered |= edges.get(i, set())
    candidates = {i: edges.get(i, set()) for i in range(n_seeds, n_files)}

    room = args.max - len(os.listdir(seeds))
    added = 0
    while added < room and candidates:
        best = max(candidates, key=lambda i: (len(candidates[i] - covered),
                                              -os.path.getsize(files[i])))
        gain = candidates.pop(best) - covered
        if not gain:
            break
        covered |= gain
        shutil.copy(files[best], os.path.join(seeds, "found-" + os.path.basename(files[best])[:12]))
        added += 1
    missed = set().union(*candidates.values()) - covered if candidates else set()
    print("%s: added %d inputs; %d edges covered, %d reached only by inputs left out"
          % (args.name, added, len(covered), len(missed)))


if __name__ == "__main__":
    main()
