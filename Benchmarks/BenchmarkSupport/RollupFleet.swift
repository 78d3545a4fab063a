import KappaCore

/// The rollup benchmarks' fleet: 1,000 devices × 5 metrics, one reading per series every 10 s in time order,
/// values uniform over 0…16,777 from a fixed-seed generator, so every run and both benchmarks see the same readings.
/// `body` gets each reading with its series number (0..<5,000; device = series / 5). `series` other than 5,000 gives a
/// fleet of that many series (series / 5 devices) of the same shape, for the cost of many series.
public func rollupFleetReadings(count: Int, series seriesCount: Int = 5000, start: Int64, _ body: (_ series: Int, _ reading: Reading) throws -> Void) rethrows {
    var state: UInt64 = 1
    for index in 0..<count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let series = index % seriesCount
        let reading = Reading(
            device: "device-\(series / 5)", metric: "metric-\(series % 5)",
            time: Timestamp(microsecondsSinceEpoch: start + Int64(index / seriesCount) * 10_000_000 + Int64(series)),
            value: Double(state >> 40) / 1000
        )
        try body(series, reading)
    }
}
