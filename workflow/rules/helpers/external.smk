# The external stage's targets (external comparison and predict-mode tables). Included by rules/external.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


def external_targets():
    targets = [
        result_paths.generalisation_gap(dataset) for dataset in EXTERNAL_DATASETS
    ]
    targets += [
        result_paths.series_predictions(dataset) for dataset in PREDICT_DATASETS
    ]
    if config["evaluate"]["sorted_links"]:
        targets += expand(
            "results/{dataset}/predictions/sorted", dataset=PREDICT_DATASETS
        )
    return targets
