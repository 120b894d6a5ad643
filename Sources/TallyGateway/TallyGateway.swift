// TallyGateway module
