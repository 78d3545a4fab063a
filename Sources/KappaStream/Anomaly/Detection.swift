/// One detector's verdict that one reading (or one moment of silence) is anomalous.
struct Detection {
    /// Event time the anomaly began (nanoseconds): usually the reading's own time.
    var start: Int64
    var score: Double
    var value: Double
    /// NaN where the detector has no expected range.
    var expectedLow: Double
    var expectedHigh: Double
}
