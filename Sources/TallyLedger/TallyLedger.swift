// TallyLedger module
