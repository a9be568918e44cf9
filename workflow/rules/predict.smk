# placeholder: filled by the predict stage
