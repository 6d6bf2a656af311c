"""Training vertical models on a pool's consented records."""
