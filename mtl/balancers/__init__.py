"""Ways of combining the task losses (or their gradients) into one training signal."""

from mtl.balancers.aligned_mtl import AlignedMTL
from mtl.balancers.cagrad import CAGrad
from mtl.balancers.config import ConFIG
from mtl.balancers.cr_mogm import CRMOGM
from mtl.balancers.dbmtl import DBMTL
from mtl.balancers.dualproj import DualProj
from mtl.balancers.dwa import DynamicWeightAverage
from mtl.balancers.excess_mtl import ExcessMTL
from mtl.balancers.fairgrad import FairGrad
from mtl.balancers.famo import FAMO
from mtl.balancers.geometric_mean import GeometricMean
from mtl.balancers.gradnorm import GradNorm
from mtl.balancers.gradvac import GradVac
from mtl.balancers.gram_balancer import GradientBalancer
from mtl.balancers.imtl import IMTLG
from mtl.balancers.mgda import MGDA
from mtl.balancers.moco import MoCo
from mtl.balancers.modo import MoDo
from mtl.balancers.nash_mtl import NashMTL
from mtl.balancers.pcgrad import PCGrad
from mtl.balancers.rlw import RandomLossWeighting
from mtl.balancers.sdmgrad import SDMGrad
from mtl.balancers.static import StaticWeights
from mtl.balancers.stch import STCH
from mtl.balancers.sum import Sum
from mtl.balancers.uncertainty import UncertaintyWeighting
from mtl.balancers.upgrad import UPGrad
from mtl.balancers.weighting import Weighting

__all__ = [
    "AlignedMTL",
    "CAGrad",
    "CRMOGM",
    "ConFIG",
    "DBMTL",
    "DualProj",
    "DynamicWeightAverage",
    "ExcessMTL",
    "FAMO",
    "FairGrad",
    "GeometricMean",
    "GradNorm",
    "GradVac",
    "GradientBalancer",
    "IMTLG",
    "MGDA",
    "MoCo",
    "MoDo",
    "NashMTL",
    "PCGrad",
    "RandomLossWeighting",
    "SDMGrad",
    "STCH",
    "StaticWeights",
    "Sum",
    "UPGrad",
    "UncertaintyWeighting",
    "Weighting",
]
