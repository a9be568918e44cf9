# placeholder: filled by the external stage
