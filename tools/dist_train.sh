#!/usr/bin/env bash
# Multi-process training through torch.distributed (torchrun + mmengine's
# pytorch launcher). One process per GPU; on a CPU-only machine the
# processes use gloo.
#   bash tools/dist_train.sh CONFIG NPROC [train.py options...]
#
# Lost processes: torchrun restarts the whole worker group (on every node)
# up to MAX_RESTARTS times (default 3) when a worker dies, and every start
# is given --resume: training continues from the latest checkpoint in the
# work dir (a fresh work dir starts from scratch, or from the config's
# load_from), so the iterations since that checkpoint are redone. Pass
# --resume / --resume FILE yourself to choose, or RESUME=0 to never resume.
#
# Several nodes: run the same command on each node with
#   NNODES       number of nodes (default 1)
#   NODE_RANK    this node's index, 0..NNODES-1 (default 0); node 0 hosts
#                the rendezvous store when NNODES > 1
#   MASTER_ADDR  address of node 0, reachable from every node (127.0.0.1)
#   PORT         rendezvous port on MASTER_ADDR (default 29500)
#   RDZV_ID      job id shared by the nodes (default $SLURM_JOB_ID, else
#                cvt_backbone)
#   RDZV_HOST    1|0: whether this node hosts the rendezvous store (default
#                as above; torchrun's own guess compares host names)
#   LOCAL_ADDR   this node's address as the others reach it (default: its
#                host name; set it where names do not resolve across nodes)
# The work dir must be on a file system every node sees (checkpoints are
# written by rank 0 and read by all ranks on resume).
set -euo pipefail
CONFIG=$1
NPROC=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MAX_RESTARTS=${MAX_RESTARTS:-3}
RDZV_ID=${RDZV_ID:-${SLURM_JOB_ID:-cvt_backbone}}
# Each start's workers get a TCP store of their own (hosted by rank 0)
# rather than the rendezvous store: that one outlives restarts, and a
# restarted worker could read a dead peer's address from it and fail to
# connect (pytorch/pytorch#135712).
export TORCH_DISABLE_SHARE_RDZV_TCP_STORE=${TORCH_DISABLE_SHARE_RDZV_TCP_STORE:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}

launch=(--nnodes="$NNODES" --nproc-per-node="$NPROC"
        --max-restarts="$MAX_RESTARTS" --rdzv-backend=c10d
        --rdzv-endpoint="$MASTER_ADDR:$PORT" --rdzv-id="$RDZV_ID")
host=${RDZV_HOST:-}
if [[ -z $host && $NNODES != 1 ]]; then
    host=$([[ $NODE_RANK == 0 ]] && echo 1 || echo 0)
fi
[[ -n $host ]] && launch+=(--rdzv-conf="is_host=$host")
[[ -n ${LOCAL_ADDR:-} ]] && launch+=(--local-addr="$LOCAL_ADDR")

resume=(--resume)
for arg in "$@"; do
    [[ $arg == --resume || $arg == --resume=* ]] && resume=()
done
[[ ${RESUME:-1} == 0 ]] && resume=()

exec "$PYTHON" -m torch.distributed.run "${launch[@]}" \
    "$HERE/train.py" "$CONFIG" --launcher pytorch "$@" ${resume[@]+"${resume[@]}"}
