// TallyAWS module
