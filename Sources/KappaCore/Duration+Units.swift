/// A `Duration` as the plain numbers system calls, metrics and rates want.
extension Duration {
    /// Whole nanoseconds (sub-nanosecond parts dropped).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }

    /// Seconds as a floating-point number.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
