import Testing
@testable import TallyGateway

/// Built-in guardrail: role trust policies may trust only the upstream account and AWS services (review finding 3:
/// a role trusting an outside principal is assumed from outside the gateway, with no record).
@Suite struct TrustPolicyGuardrailTests {
    let account = "123456789012"

    func problem(_ principal: String, effect: String = "Allow") -> String? {
        GatewayHandler.trustPolicyProblem(#"{"Version":"2012-10-17","Statement":[{"Effect":"\#(effect)","Action":"sts:AssumeRole","Principal":\#(principal)}]}"#,
                                          account: account)
    }

    @Test func inAccountPrincipalsAndServicesPass() {
        #expect(problem(#"{"AWS":"arn:aws:iam::123456789012:user/tally-gateway-admin"}"#) == nil)
        #expect(problem(#"{"AWS":["123456789012","arn:aws:iam::123456789012:root"]}"#) == nil)
        #expect(problem(#"{"Service":["lambda.amazonaws.com","ec2.amazonaws.com"]}"#) == nil)
        #expect(problem(#"{"AWS":"arn:aws:iam::999999999999:root"}"#, effect: "Deny") == nil)
        // a single statement object, no principal (a statement that grants nothing to anyone)
        #expect(GatewayHandler.trustPolicyProblem(#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#, account: account) == nil)
    }

    @Test func outsidePrincipalsAreRefused() {
        #expect(problem(#"{"AWS":"arn:aws:iam::999999999999:root"}"#)?.contains("999999999999") == true)
        #expect(problem(#"{"AWS":["arn:aws:iam::123456789012:root","999999999999"]}"#) != nil)
        #expect(problem(#""*""#) != nil)
        #expect(problem(#"{"AWS":"*"}"#) != nil)
        #expect(problem(#"{"Federated":"accounts.google.com"}"#) != nil)
        #expect(problem(#"{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}"#) != nil)
        #expect(problem(#"{"Service":"example.com"}"#) != nil)
        #expect(problem(#"{"CanonicalUser":"abc"}"#) != nil)
        #expect(problem(#"{"AWS":[1]}"#) != nil)
        #expect(GatewayHandler.trustPolicyProblem(#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"x"}}]}"#, account: account) != nil)
        #expect(GatewayHandler.trustPolicyProblem("not json", account: account) != nil)
        // duplicate keys are refused by the parser, so no reader can pick a different copy than the upstream
        #expect(GatewayHandler.trustPolicyProblem(#"{"Statement":[],"Statement":[{"Effect":"Allow","Principal":"*"}]}"#, account: account) != nil)
    }

    @Test func accountsOfARNs() {
        #expect(GatewayHandler.accountOf("arn:aws:iam::123456789012:user/x") == "123456789012")
        #expect(GatewayHandler.accountOf("arn:aws:sts::123456789012:assumed-role/r/s") == "123456789012")
        #expect(GatewayHandler.accountOf("arn:aws:iam::*:root") == nil)
        #expect(GatewayHandler.accountOf("123456789012") == nil)
    }

    @Test func ownIdentityOfUserRoleAndAssumedRoleARNs() {
        let user = GatewayHandler.iamIdentity("arn:aws:iam::123456789012:user/ops/tally-gateway-admin")
        #expect(user == GatewayHandler.IAMIdentity(account: "123456789012", kind: "user", name: "tally-gateway-admin"))
        #expect(GatewayHandler.iamIdentity("arn:aws:iam::123456789012:user/tally-gateway-admin") == user)  // path ignored
        let role = GatewayHandler.iamIdentity("arn:aws:sts::123456789012:assumed-role/gateway-role/session-1")
        #expect(role == GatewayHandler.IAMIdentity(account: "123456789012", kind: "role", name: "gateway-role"))
        #expect(GatewayHandler.iamIdentity("arn:aws:iam::123456789012:role/svc/gateway-role") == role)
        #expect(GatewayHandler.iamIdentity("arn:aws:iam::999999999999:user/tally-gateway-admin") != user)
        #expect(GatewayHandler.iamIdentity("*") == nil && GatewayHandler.iamIdentity("arn:aws:s3:::bucket/user/x") == nil)
        #expect(GatewayHandler.callerUserOperations.contains("CreateAccessKey"))
    }
}
