# placeholder: filled by the preprocess stage
