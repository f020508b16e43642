"""The lab database's in-cluster tools: DataJoint role SQL and the Job step that applies it (no Pulumi here)."""
