@testable import TallyAWS

extension Route {
    /// A path that fills the route's template: each label with `label` (between its prefix and suffix), each greedy
    /// label with `greedy`; `/` for an empty template, and the template's trailing slash kept.
    func syntheticPath(label: String = "v1", greedy: String = "a/b") -> String {
        var path = ""
        for seg in segments {
            switch seg {
            case .literal(let l): path += "/" + URIEncoding.encode(l)
            case .label(_, let p, let s): path += "/" + URIEncoding.encode(p + label + s)
            case .greedy(_, let p): path += "/" + URIEncoding.encode(p) + greedy
            }
        }
        if path.isEmpty || trailingSlash { path += "/" }
        return path
    }

    /// The requestUri's query literals (`uploads`, `list-type=2`).
    var syntheticQueryLiterals: [String] { queryLiterals.map { lit in lit.1.map { v in "\(lit.0)=\(v)" } ?? lit.0 } }

    /// The required query members, each `=1`.
    var syntheticRequiredQuery: [String] { requiredQuery.map { "\(URIEncoding.encode($0))=1" } }

    /// A Host and the required header members (each `1`).
    var syntheticHeaders: [(name: String, value: String)] { [("Host", "127.0.0.1:1")] + requiredHeaders.map { (name: $0, value: "1") } }
}
