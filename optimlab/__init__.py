"""optimlab: the library behind the course module "Improving Optimization".

Reference optimizers (:mod:`optimlab.optimizers`), the data sets and experiments the
chapters run, and the widgets and plots that draw them.
"""

__version__ = "0.1.0"
