"""The usage ledger and epoch settlement."""
