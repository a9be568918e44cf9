"""A random forest on the DICOM header of each slice's file (``features/header.parquet``):
numeric fields and multi-hot tokens, what a reader of the header alone would conclude."""

from mriseq.models.family import ModelFamily
from mriseq.models.forest import predict, settings, trainer

FAMILY = ModelFamily(
    name="header_rf", title="header RF", artefact="model.joblib", env="data", features="header",
    settings=settings, train=trainer("header_rf"), predict=predict,
)
