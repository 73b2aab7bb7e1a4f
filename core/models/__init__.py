"""BMMN model family (paper 000, Sec. III): Bio Network, Bio Auto-Encoder, Spatial Network, BMMN.

Importing this package imports torch (not torchvision), so nothing else in ``core`` imports it at
module level; callers that need the models import ``core.models`` themselves.
"""

from core.models.bio import BioAutoEncoder, BioNetwork
from core.models.bmmn import BMMN, OUTPUT_NAMES, BMMNConfig, BMMNOutput, build_model
from core.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from core.models.spatial import SpatialNetwork, UntrainedBackboneWarning

__all__ = [
    "BMMN",
    "OUTPUT_NAMES",
    "BMMNConfig",
    "BMMNOutput",
    "BioAutoEncoder",
    "BioNetwork",
    "CheckpointError",
    "SpatialNetwork",
    "UntrainedBackboneWarning",
    "build_model",
    "load_checkpoint",
    "save_checkpoint",
]
