"""Pure types and rules: records, consent, vouchers, Merkle trees (no ports, no I/O)."""
