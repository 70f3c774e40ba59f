"""The top of the tool hut: the ``toolhut`` command line and the all-in-one demo (with the
brokers it starts). It may import every other package; nothing but ``bench`` and the tests
imports it, so ``toolhut`` below stays the contract both ends share and nothing else."""
