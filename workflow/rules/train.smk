# placeholder: filled by the train stage
