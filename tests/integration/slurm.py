"""A Slurm cluster for the tests' machines (tests/machine.py): its configuration, one controller that is also its
only compute node, named ``host``."""

from __future__ import annotations

# Debian's Slurm in a container: processes tracked by parentage, no cgroups, no accounting (docs/notes.md). Its
# partition lets up to 4 jobs share a core (OverSubscribe), as suits notebooks that idle most of the time: with each
# job holding a core of the machine's 2, the third member's would wait in the queue
SLURM_CONF = """ClusterName=lab
SlurmctldHost={host}
AuthType=auth/munge
CredType=cred/munge
SlurmUser=slurm
SlurmdUser=root
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
KillWait=5
NodeName={host} CPUs=2 RealMemory=4000 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
"""
