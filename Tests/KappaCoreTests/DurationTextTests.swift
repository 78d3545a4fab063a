import KappaCore
import Testing

/// The one duration parser of `kappa` and `kappa-sim`.
@Suite("duration text")
struct DurationTextTests {
    @Test("units ms, s, m, h, d; a bare number is seconds; decimals allowed")
    func units() throws {
        #expect(try DurationText.parse("500ms") == .milliseconds(500))
        #expect(try DurationText.parse("30s") == .seconds(30))
        #expect(try DurationText.parse("10m") == .seconds(600))
        #expect(try DurationText.parse("2h") == .seconds(7_200))
        #expect(try DurationText.parse("1d") == .seconds(86_400))
        #expect(try DurationText.parse("1.5h") == .seconds(5_400))
        #expect(try DurationText.parse("90") == .seconds(90))
        #expect(try DurationText.parse("0") == .zero)
    }

    @Test("not a duration: empty, no number, a sign, an exponent, inf or nan, an unknown unit", arguments: ["", "s", "ms", "-1s", "+1s", "1e3s", "inf", "nans", "1w", "1 s", "1.2.3m"])
    func malformed(text: String) {
        #expect(throws: DurationText.Problem.malformed) { try DurationText.parse(text) }
        #expect(DurationText.duration(text) == nil)
    }

    @Test("longer than a Duration of Int64 nanoseconds holds: too long, not a crash")
    func tooLong() throws {
        #expect(throws: DurationText.Problem.tooLong) { try DurationText.parse("999999999999999999d") }
        #expect(throws: DurationText.Problem.tooLong) { try DurationText.parse("9223372036854775808") }
        #expect(try DurationText.parse("106751d") == .seconds(106_751 * 86_400))
    }

    @Test("Duration back to whole nanoseconds and seconds")
    func conversions() {
        #expect(Duration.milliseconds(1_500).nanoseconds == 1_500_000_000)
        #expect(Duration.milliseconds(1_500).seconds == 1.5)
    }
}
