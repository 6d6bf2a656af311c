"""``python -m fairwheel.cli``: the same as the ``fairwheel`` script."""

from fairwheel.cli import main

main()
