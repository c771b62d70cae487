"""Fleet operations: the drift report of playbooks/audit.yml."""
