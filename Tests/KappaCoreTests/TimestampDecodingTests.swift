import KappaCore
import Testing

@Suite struct TimestampDecodingTests {
    static let expected = Timestamp(nanosecondsSinceEpoch: 1_732_400_000_123_456_789)
    static let wide = DecodingLimits(maxFutureNanoseconds: .max, maxPastNanoseconds: .max)

    private func time(_ ts: String, limits: DecodingLimits = wide) -> Timestamp? {
        let result = decode(#"{"ts": \#(ts), "x": 1}"#, limits: limits)
        return result.readings.first?.time
    }

    @Test(arguments: [
        ("1732400000", 1_732_400_000_000_000_000 as Int64),
        ("1732400000.123456789", 1_732_400_000_123_456_789),
        ("1732400000123", 1_732_400_000_123_000_000),
        ("1732400000123.456", 1_732_400_000_123_456_000),
        ("1732400000123456", 1_732_400_000_123_456_000),
        ("1732400000123456789", 1_732_400_000_123_456_789),
        ("1.732400000123456789e18", 1_732_400_000_123_456_789),
        ("1.7324e9", 1_732_400_000_000_000_000),
        ("9200000000", 9_200_000_000_000_000_000),  // seconds up to 2261
        ("100000000000", 100_000_000_000_000_000),  // 12 digits: milliseconds
        ("0", 0),
        ("-1", -1_000_000_000),
        ("\"1732400000123\"", 1_732_400_000_123_000_000),
    ])
    func epochUnitsByMagnitude(_ ts: String, _ nanoseconds: Int64) {
        #expect(time(ts)?.nanosecondsSinceEpoch == nanoseconds, "\(ts)")
    }

    @Test(arguments: [
        ("2024-11-23T22:13:20.123456789Z", 1_732_400_000_123_456_789 as Int64),
        ("2024-11-23T22:13:20Z", 1_732_400_000_000_000_000),
        ("2024-11-24T00:13:20.123456789+02:00", 1_732_400_000_123_456_789),
        ("2024-11-23T17:13:20.5-05:00", 1_732_400_000_500_000_000),
        ("2024-11-23t22:13:20.1234567891234z", 1_732_400_000_123_456_789),
        ("2024-11-23 22:13:20Z", 1_732_400_000_000_000_000),
        ("1969-12-31T23:59:59.5Z", -500_000_000),
        ("2000-02-29T00:00:00Z", 951_782_400_000_000_000),
    ])
    func rfc3339WithFractionsAndOffsets(_ text: String, _ nanoseconds: Int64) {
        #expect(time("\"\(text)\"")?.nanosecondsSinceEpoch == nanoseconds, "\(text)")
    }

    @Test(arguments: [
        "\"2024-11-23T22:13:20\"", "\"2024-02-30T00:00:00Z\"", "\"2024-11-23T22:13:20+2:00\"", "\"2024-11-23T25:00:00Z\"",
        "\"2024-11-23T22:13:20.Z\"", "\"soon\"", "\"\"", "true", "null", "{}", "[1]", "1e30", "99999999999", "100000000000000000000", "-1e30", "\"1732400000abc\"",
    ])
    func invalidTimestampsRejectTheObject(_ ts: String) {
        let result = decode(#"{"ts": \#(ts), "x": 1}"#, limits: Self.wide)
        #expect(result.readings.isEmpty, "\(ts)")
        #expect(result.reasons == [.invalidTimestamp], "\(ts)")
        #expect(result.problems.first?.message.hasPrefix("ts at byte 7 is ") == true)
    }

    @Test func windowAroundTheReceiveTime() {
        let now = Timestamp(secondsSinceEpoch: 1_732_400_000)
        func accepted(_ seconds: Int64) -> Bool {
            decode(#"{"ts": \#(seconds), "x": 1}"#, at: now).readings.count == 1
        }
        #expect(accepted(1_732_400_000 + 86_400))
        #expect(!accepted(1_732_400_000 + 86_401))
        #expect(accepted(1_732_400_000 - 365 * 86_400))
        #expect(!accepted(1_732_400_000 - 365 * 86_400 - 1))
        let result = decode(#"{"ts": 1732500000, "x": 1}"#, at: now)
        #expect(result.reasons == [.timestampOutOfRange])
        #expect(result.problems.first?.message == "ts of the object at byte 0: 2024-11-25T02:00:00Z is outside the accepted window around the receive time 2024-11-23T22:13:20Z; 1 reading(s) rejected")
    }
}
