/// Static limits: the value itself is out of range, whatever the series did before. Off unless a minimum
/// or maximum is configured; scored by how far past the limit the value is, in the metric's units.
enum ThresholdDetector {
    static func check(_ value: Double, at time: Int64, _ settings: DetectorSettings) -> Detection? {
        let low = settings.minimum ?? -.infinity, high = settings.maximum ?? .infinity
        let excess = value > high ? value - high : value < low ? low - value : 0
        guard excess > 0 else { return nil }
        return Detection(
            start: time, score: excess, value: value,
            expectedLow: settings.minimum ?? .nan, expectedHigh: settings.maximum ?? .nan
        )
    }

    /// Within `margin` inside a limit: a value back from a breach by less than its own noise is still hovering
    /// at the limit (the alarm's deadband), so the episode neither closes nor grows.
    static func isNear(_ value: Double, margin: Double, _ settings: DetectorSettings) -> Bool {
        if let maximum = settings.maximum, value > maximum - margin { return true }
        if let minimum = settings.minimum, value < minimum + margin { return true }
        return false
    }
}
