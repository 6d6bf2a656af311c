"""Pure types and rules: records, consent, vouchers, money, Merkle trees. Imports nothing of the project's ports."""
