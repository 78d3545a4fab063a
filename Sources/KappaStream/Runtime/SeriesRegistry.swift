/// A device and metric pair: one time series.
public struct SeriesName: Hashable, Sendable {
    public var device: String
    public var metric: String

    public init(device: String, metric: String) {
        self.device = device
        self.metric = metric
    }
}

/// Gives each series seen a small number, so per-reading state is keyed by integers, not strings.
/// Numbers live only in this process; nothing stores them.
public struct SeriesRegistry {
    private var numbers: [SeriesName: UInt32] = [:]
    private(set) var names: [SeriesName] = []

    mutating func number(device: String, metric: String) -> UInt32 {
        let name = SeriesName(device: device, metric: metric)
        if let number = numbers[name] { return number }
        let number = UInt32(names.count)
        numbers[name] = number
        names.append(name)
        return number
    }

    public subscript(number: UInt32) -> SeriesName { names[Int(number)] }
}
