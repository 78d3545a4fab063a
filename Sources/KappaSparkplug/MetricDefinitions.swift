/// The metrics a birth declared: name and data type by alias, and data type by name (data messages may
/// leave the data type out and give only an alias).
struct MetricDefinitions: Sendable {
    struct Definition: Sendable {
        var name: String
        var dataType: UInt32?
    }

    private var byAlias: [UInt64: Definition] = [:]
    private var typeByName: [String: UInt32] = [:]

    init() {}

    init(birth metrics: [Kappa_Sparkplug_Payload.Metric]) {
        for metric in metrics where metric.hasName {
            let dataType = metric.hasDatatype ? metric.datatype : nil
            if metric.hasAlias { byAlias[metric.alias] = Definition(name: metric.name, dataType: dataType) }
            if let dataType { typeByName[metric.name] = dataType }
        }
    }

    /// The metric's name and declared type; nil when it has no name and its alias was not declared.
    func resolve(_ metric: Kappa_Sparkplug_Payload.Metric) -> Definition? {
        if metric.hasName {
            return Definition(name: metric.name, dataType: typeByName[metric.name] ?? (metric.hasAlias ? byAlias[metric.alias]?.dataType : nil))
        }
        guard metric.hasAlias else { return nil }
        return byAlias[metric.alias]
    }
}
