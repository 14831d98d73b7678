"""Lightning callbacks of mtl."""

from mtl.callbacks.balancer_plots import BalancerPlots
from mtl.callbacks.checkpoint import RunCheckpoint
from mtl.callbacks.prediction_writer import PredictionWriter
from mtl.callbacks.results_table import ResultsTable
from mtl.callbacks.task_affinity import TaskAffinity

__all__ = ["BalancerPlots", "PredictionWriter", "ResultsTable", "RunCheckpoint", "TaskAffinity"]
