/// The samples of a Prometheus text exposition, with the families its TYPE lines declare.
public struct PrometheusSamples: Sendable {
    public struct Sample: Sendable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public private(set) var samples: [Sample] = []
    public private(set) var declaredFamilies: [String: String] = [:]

    public init(parsing text: String) {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { declaredFamilies[String(parts[2])] = String(parts[3]) }
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            var labels: [String: String] = [:]
            var name = String(series)
            if let brace = series.firstIndex(of: "{"), series.hasSuffix("}") {
                name = String(series[..<brace])
                let body = series[series.index(after: brace)..<series.index(before: series.endIndex)]
                // Label values the gateway writes hold no commas or escaped quotes.
                for pair in body.split(separator: ",") {
                    guard let equals = pair.firstIndex(of: "=") else { continue }
                    var labelValue = pair[pair.index(after: equals)...]
                    if labelValue.hasPrefix("\""), labelValue.hasSuffix("\""), labelValue.count >= 2 { labelValue = labelValue.dropFirst().dropLast() }
                    labels[String(pair[..<equals])] = String(labelValue)
                }
            }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
    }

    public func values(_ name: String) -> [Sample] {
        samples.filter { $0.name == name }
    }

    /// The sum of every sample of `name` whose labels include `matching`.
    public func total(_ name: String, matching: [String: String] = [:]) -> Double {
        values(name).filter { sample in matching.allSatisfy { sample.labels[$0.key] == $0.value } }.reduce(0) { $0 + $1.value }
    }
}
