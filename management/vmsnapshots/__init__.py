"""VM snapshots: the disks of a stopped VM at one point in time (createVMSnapshot ... revertToVMSnapshot)."""
