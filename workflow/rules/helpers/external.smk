# The external stage's targets (external comparison and predict-mode tables). Included by rules/external.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


def external_targets():
    targets = expand(
        "results/{dataset}/evaluation/generalisation_gap.csv", dataset=EXTERNAL_DATASETS
    )
    targets += expand(
        "results/{dataset}/predictions/series.csv", dataset=PREDICT_DATASETS
    )
    if config["evaluate"]["sorted_links"]:
        targets += expand(
            "results/{dataset}/predictions/sorted", dataset=PREDICT_DATASETS
        )
    return targets
