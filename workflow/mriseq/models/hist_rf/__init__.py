"""A random forest on each slice's intensity histogram (``features/histogram.parquet``): what the
pixels say without any spatial pattern, the cheapest pixel baseline."""

from mriseq.models.family import ModelFamily
from mriseq.models.forest import predict, settings, trainer

FAMILY = ModelFamily(
    name="hist_rf", title="hist RF", artefact="model.joblib", env="data", features="histogram",
    settings=settings, train=trainer("hist_rf"), predict=predict,
)
