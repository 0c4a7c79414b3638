"""The meta RM (GRM_SPEC 7): a scalar reward model that reads one sampled judgment (query, responses,
principles, critique) and outputs a logit for "this judgment is correct"; MetaRM@k keeps the top
judgments by it. Training, checkpoints and batched scoring, with no Django: Celery tasks call it.

Importing this package imports torch (transformers only when a model is loaded); the web process never does.
"""

from workers.metarm.checkpoint import MANIFEST, content_hash, read_manifest
from workers.metarm.data import MetaExample, Split, encode, positive_weight, split_by_group
from workers.metarm.model import PROFILES, Profile, default_profile, load_metarm, trainable_backbone
from workers.metarm.score import MetaScorer
from workers.metarm.train import TrainResult, train_metarm

__all__ = [
    "MANIFEST",
    "PROFILES",
    "MetaExample",
    "MetaScorer",
    "Profile",
    "Split",
    "TrainResult",
    "content_hash",
    "default_profile",
    "encode",
    "load_metarm",
    "positive_weight",
    "read_manifest",
    "split_by_group",
    "train_metarm",
    "trainable_backbone",
]
