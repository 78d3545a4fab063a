/// A device and metric pair: one time series.
struct SeriesName: Hashable {
    var device: String
    var metric: String
}

/// Gives each series seen a small number, so per-reading state is keyed by integers, not strings.
/// Numbers live only in this process; nothing stores them.
struct SeriesRegistry {
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

    subscript(number: UInt32) -> SeriesName { names[Int(number)] }
}
