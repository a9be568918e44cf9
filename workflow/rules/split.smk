# placeholder: filled by the split stage
