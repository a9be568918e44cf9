"""Patient-level test set and stratified, patient-grouped CV folds of the train dataset."""

from mriseq.logs import log_to
from mriseq.splits import make_splits

with log_to(snakemake.log[0]):
    make_splits(
        snakemake.input.index,
        snakemake.input.volumes,
        snakemake.output.splits,
        snakemake.output.class_counts,
        snakemake.output.warnings,
        seed=snakemake.params.seed,
        test_fraction=snakemake.params.split["test_fraction"],
        folds=snakemake.params.split["folds"],
        tasks=snakemake.params.tasks,
    )
