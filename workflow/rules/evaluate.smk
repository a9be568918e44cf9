# placeholder: filled by the evaluate stage
