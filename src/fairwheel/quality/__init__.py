"""Quality: the contribution gate's checks, pure and usable without a node.

* :mod:`~fairwheel.quality.gate` — the gate in DESIGN.md's order and the accepted score;
* :mod:`~fairwheel.quality.minhash` — MinHash signatures and LSH over character shingles;
* :mod:`~fairwheel.quality.near_duplicate` — near copies by typo-tolerant word alignment;
* :mod:`~fairwheel.quality.junk` — junk, wrong language and outliers against the pool's text;
* :mod:`~fairwheel.quality.label_issues` — out-of-sample probabilities and confident learning;
* :mod:`~fairwheel.quality.review` — rescoring as the pool grows, contributor reputation;
* :mod:`~fairwheel.quality.audit` — the audit of any labelled text CSV (``fairwheel quality
  audit``, in :mod:`fairwheel.cli.quality`);
* :mod:`~fairwheel.quality.synthetic` — the attacks used to measure all of the above.

Thresholds and how they were chosen: ``docs/quality.md``.
"""
