// TallyIAM module
