#!/usr/bin/env bash
# Continue the molecule prior's training on a lent GPU machine (the `device` tool), then bring its state home.
#
#   bash scripts/device_train.sh prepare      # here: wheels + token files into .device/ (git-ignored)
#   run(command="bash scripts/device_train.sh run 7", carry=[".device"], timeout_s=560)   # there: 7 minutes
#     (BATCH=512 by default there: sequences per step; the CPU sittings used 128)
#   bash scripts/device_train.sh restore <files_at>   # here: the returned state into training/molecule_fragments
#
# The GPU machine has torch but not hydra-core / omegaconf (svdd_cli imports them): `prepare` downloads their
# pure-Python wheels. It gets the training data as one compressed .npz of the token caches (unpacked there into the
# .npy caches scripts/train_mdlm.py reads without the TSVs; DATA=data/molecule_fragments_full sends the ~1.57M molecules of
# `prepare_molecule.py --extend`). What travels is at most 64 MiB: the tracked tree is larger once training states and
# checkpoints are committed, so `prepare` moves checkpoints/ and the training states to .device-aside/
# (git-ignored; `restore` moves them back; `git checkout -- checkpoints training` also would). The state itself
# (66.7 MiB at 8 blocks) travels packed both ways by scripts/pack_state.py: byte-shuffled, deflated, in parts of
# 15 MiB (~52 MiB), since what comes back is at most 8 files of 16 MiB, 64 MiB together.
set -euo pipefail
STATE=${STATE:-training/molecule_fragments}
DATA=${DATA:-data/molecule_fragments}  # DATA=data/molecule_fragments_full: the ~1.57M of prepare_molecule.py --extend
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu tries the run mode here
mode=${1:?usage: prepare | run MINUTES | restore FILES_AT}

case "$mode" in
prepare)
  for split in train valid; do   # the token caches train_mdlm.py reads without the TSVs
    test -f "$DATA/$split.tokens.npy" || python3 -c "import sys; sys.path.insert(0, 'scripts'); \
from pathlib import Path; from train_mdlm import load_tokens; \
load_tokens(Path('$DATA/$split.tsv'), Path('$DATA/vocab.txt').read_text().split())"
  done
  mkdir -p .device/wheels .device/data .device-aside
  python3 -m pip wheel -q --no-deps -w .device/wheels \
    hydra-core==1.3.8 omegaconf==2.3.1 antlr4-python3-runtime==4.9.3   # antlr4 4.9.3 is an sdist: built here
  python3 -c "import numpy as np; np.savez_compressed('.device/data/tokens.npz', \
train=np.load('$DATA/train.tokens.npy'), valid=np.load('$DATA/valid.tokens.npy'))"   # ~8x smaller than .npy
  cp "$DATA/vocab.txt" .device/data/   # a state started there (no $STATE yet) reads the vocabulary from it
  [ -f "$DATA/tokens.txt" ] && cp "$DATA/tokens.txt" .device/data/ || true
  if [ -d "$STATE" ]; then   # else a new state starts there (or prepare ran before: .device/ holds it packed)
    python3 scripts/pack_state.py pack "$STATE" .device/state; fi
  for path in checkpoints training/*; do [ -e "$path" ] && mv "$path" .device-aside/; done
  du -sh --exclude=.git --exclude=.venv --exclude=data --exclude=.device-aside . .device
  ;;
run)
  minutes=${2:?minutes}
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .device/wheels/*.whl
  export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  mkdir -p /tmp/data && python3 -c "import numpy as np; z = np.load('.device/data/tokens.npz'); \
[np.save(f'/tmp/data/{k}.tokens.npy', z[k]) for k in ('train', 'valid')]"
  cp .device/data/*.txt /tmp/data/
  [ -f .device/state.00 ] && python3 scripts/pack_state.py unpack .device/state "$STATE"
  # TRAIN_ARGS: more train_mdlm.py options, e.g. a new state's size "--hidden 384 --blocks 8 --heads 6"
  python3 scripts/train_mdlm.py --data /tmp/data --state "$STATE" --device "$DEVICE" --minutes "$minutes" \
    --save-minutes 2 --eval-every 5000 --threads 8 --batch-size "${BATCH:-512}" ${TRAIN_ARGS:-} 2>&1 | tail -n 40 \
    | tee "$OUT/train.log"
  python3 scripts/pack_state.py pack "$STATE" "$OUT/state"
  ls -la "$OUT"
  ;;
restore)
  from=${2:?files_at folder}
  test -f "$from/state.00" || { echo "no state.00 in $from"; exit 2; }
  for path in .device-aside/*; do [ -e "$path" ] || continue; name=$(basename "$path")
    if [ "$name" = checkpoints ]; then dest=checkpoints; else dest=training/$name; fi
    rm -rf "$dest" && mv "$path" "$dest"; done
  rm -f "$STATE"/state-*.safetensors "$STATE"/state.pt
  python3 scripts/pack_state.py unpack "$from/state" "$STATE"
  git status --short | head
  ;;
*) echo "unknown mode $mode: prepare | run MINUTES | restore FILES_AT"; exit 2 ;;
esac
