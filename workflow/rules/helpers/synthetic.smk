# The synthetic stage's input functions and targets. Included by rules/synthetic.smk;
# kept apart from the rules because a Snakefile mixing rules and functions fails --lint.


def synthetic_cohort_config(wildcards):
    return canonical(config["synthetic"]["cohorts"][wildcards.cohort])


def synthetic_targets():
    return [
        f"results/synthetic/{ds['synthetic']}/montage.png"
        for ds in config["datasets"].values()
        if ds.get("synthetic")
    ]
