"""The thesis's experiments, one per module.

Each module holds one result: its frozen, JSON-able config, a ``run(config)``
that returns a record of JSON values (the same config gives the same
record), the analysis of that record and its figures. They use the layers
below them (data, nets, train, measure) and nothing imports them but the
command line and ``symscape reproduce``.

* :mod:`symscape.experiments.stability`: the relative stability toward
  diffeomorphisms R_f of trained image classifiers, and its link to their
  test error (Petrini, Favero, Geiger, Wyart 2021).
"""
