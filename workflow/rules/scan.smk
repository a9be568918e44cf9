# placeholder: filled by the scan stage
