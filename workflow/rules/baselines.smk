# placeholder: filled by the baselines stage
