# Sourced by .ci/run: start the local one-node SLURM cluster (installs slurm-wlm + munge from Debian if
# missing) and export SLURM_CONF so sbatch/squeue/submitit in the tests reach it.
_clinprompt_slurm_cluster="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/slurm/local-cluster.sh"
if [ -x "$_clinprompt_slurm_cluster" ]; then
  eval "$("$_clinprompt_slurm_cluster" start)"
else
  echo "no local SLURM cluster script at $_clinprompt_slurm_cluster" >&2
  return 1
fi
