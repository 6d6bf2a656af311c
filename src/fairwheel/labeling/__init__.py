"""A paid labeling workforce with measured quality (pure capabilities).

* :mod:`~fairwheel.labeling.aggregate`: Dawid–Skene EM and majority vote.
* :mod:`~fairwheel.labeling.assign`: pull-based task assignment with overlap and gold.
* :mod:`~fairwheel.labeling.pay`: the bounty split and slash proposals.
* :mod:`~fairwheel.labeling.job`: :class:`~fairwheel.labeling.job.LabelingJob` ties them together.
* ``fairwheel labels aggregate`` lives in :mod:`fairwheel.cli.labels`.

Nothing is imported here, so ``fairwheel --help`` stays light; import the submodules.
The rules are in ``docs/labeling.md``.
"""
