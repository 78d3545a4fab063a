import KappaCore
import Testing

@Suite struct JSONDecodingTests {
    @Test func objectWithTimestampAndFields() throws {
        let result = decode(#"{"ts": 1732400000000, "temperature": 21.5, "humidity": 40.1}"#, tags: [Tag(key: "site", value: "s1")])
        #expect(result.problems.isEmpty)
        #expect(result.readings == [
            Reading(device: "d1", metric: "temperature", time: Timestamp(millisecondsSinceEpoch: sampleTS), value: 21.5, timeSource: .device, tags: [Tag(key: "site", value: "s1")]),
            Reading(device: "d1", metric: "humidity", time: Timestamp(millisecondsSinceEpoch: sampleTS), value: 40.1, timeSource: .device, tags: [Tag(key: "site", value: "s1")]),
        ])
    }

    @Test func timestampAfterTheFieldsStillApplies() {
        let result = decode(#"{"temperature": 21.5, "ts": 1732400000}"#)
        #expect(result.readings.map(\.time) == [Timestamp(secondsSinceEpoch: 1_732_400_000)])
        #expect(result.readings.map(\.timeSource) == [.device])
    }

    @Test func valuesObject() {
        let result = decode(#"{"ts": 1732400000000, "values": {"temperature": 21.5, "humidity": 40}}"#)
        #expect(result.problems.isEmpty)
        #expect(result.values == ["temperature": 21.5, "humidity": 40])
        #expect(result.readings.allSatisfy { $0.time == Timestamp(millisecondsSinceEpoch: sampleTS) })
    }

    @Test func batchArrayEachWithItsOwnTimestamp() {
        let result = decode(#"[{"ts": 1732400000000, "t": 1}, {"ts": 1732400001000, "values": {"t": 2}}, {"t": 3}]"#)
        #expect(result.problems.isEmpty)
        #expect(result.readings.map(\.value) == [1, 2, 3])
        #expect(result.readings.map(\.time.nanosecondsSinceEpoch) == [sampleTS * 1_000_000, (sampleTS + 1_000) * 1_000_000, receivedAt.nanosecondsSinceEpoch])
        #expect(result.readings.map(\.timeSource) == [.device, .device, .received])
    }

    @Test func absentTimestampUsesTheReceiveTime() {
        let result = decode(#"{"temperature": 21.5}"#)
        #expect(result.readings.map(\.time) == [receivedAt])
        #expect(result.readings.map(\.timeSource) == [.received])
    }

    @Test func booleansBecomeOneAndZero() {
        #expect(decode(#"{"door": true, "alarm": false}"#).values == ["door": 1, "alarm": 0])
    }

    @Test func numericStringsAreAccepted() {
        let result = decode(#"{"a": "21.5", "b": "-3e2", "c": " 4"}"#)
        #expect(result.values == ["a": 21.5, "b": -300])
        #expect(result.reasons == [.nonNumericValue])
    }

    @Test func escapesInKeys() {
        let result = decode(#"{"temp\u00e9rature": 1, "a\"b": 2, "tab\tkey": 3, "\ud83c\udf21": 4, "\/x": 5}"#)
        // An escaped tab unescapes to a control character, which no metric name may hold.
        #expect(result.reasons == [.invalidMetric])
        #expect(result.values == ["température": 1, "a\"b": 2, "🌡": 4, "/x": 5])
    }

    @Test func escapedTsIsStillTheTimestamp() {
        let result = decode(#"{"\u0074s": 1732400000000, "t": 1}"#)
        #expect(result.readings.first?.timeSource == .device)
    }

    @Test func rawUnicodeKeys() {
        #expect(decode(#"{"température": 1, "温度": 2}"#).values == ["température": 1, "温度": 2])
    }

    @Test(arguments: [
        ("1e3", 1000.0), ("1E+3", 1000), ("-2.5e-3", -0.0025), ("0", 0), ("-0", -0.0), ("0.1", 0.1),
        ("123456789012345678901234567890", 1.2345678901234568e29),
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ("4.9e-324", Double.leastNonzeroMagnitude),
        ("1e-400", 0),
        ("9007199254740993", 9007199254740992),
        ("0.30000000000000004", 0.30000000000000004),
        ("2.2250738585072014e-308", Double.leastNormalMagnitude),
        ("3.14159265358979323846264338327950288", 3.141592653589793),
    ])
    func numbersConvertExactly(_ text: String, _ expected: Double) {
        let result = decode(#"{"x": \#(text)}"#)
        #expect(result.problems.isEmpty)
        #expect(result.readings.first?.value.bitPattern == expected.bitPattern, "\(text)")
    }

    @Test func numbersMatchTheStandardLibraryOnRandomInputs() {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<2_000 {
            let mantissa = UInt64.random(in: 0...UInt64.max, using: &generator) >> UInt64.random(in: 0...60, using: &generator)
            let exponent = Int.random(in: -330...310, using: &generator)
            let text = "\(mantissa)e\(exponent)"
            let result = decode(#"{"x": \#(text)}"#)
            let expected = Double(text)!
            if expected.isFinite {
                #expect(result.readings.first?.value.bitPattern == expected.bitPattern, "\(text)")
            } else {
                #expect(result.reasons == [.nonFiniteValue], "\(text)")
            }
        }
    }

    @Test func whitespaceEverywhere() {
        let payload = " \n\t{ \r\n \"ts\" \t:\n 1732400000000 , \"t\"\n:\n21.5 ,\"v\" : { \"h\" : 1 } \n}\n\t "
        let result = decode(payload)
        #expect(result.problems.isEmpty)
        #expect(result.values == ["t": 21.5, "v.h": 1])
    }

    @Test func nestedObjectsAreFlattenedWithDots() {
        let result = decode(#"{"env": {"temp": 1, "air": {"co2": 400}}, "values": {"power": {"l1": 230}}}"#)
        #expect(result.values == ["env.temp": 1, "env.air.co2": 400, "power.l1": 230])
    }

    @Test func duplicateKeysKeepTheFirstAndReportTheRest() {
        let result = decode(#"{"ts": 1732400000000, "t": 1, "t": 2, "ts": 5, "values": {"t": 3}}"#)
        #expect(result.readings.map(\.value) == [1])
        #expect(result.readings.first?.time == Timestamp(millisecondsSinceEpoch: sampleTS))
        #expect(result.reasons == [.duplicateKey, .duplicateKey, .duplicateKey])
        #expect(result.problems.first?.message == "key 't' appears again at byte 30; the first one is used")
    }

    @Test func duplicatesAreFoundInLargeObjectsToo() {
        var payload = "{"
        for index in 0..<100 { payload += "\"m\(index)\": \(index)," }
        payload += "\"m7\": 1, \"m99\": 2, \"m100\": 3}"
        let result = decode(payload)
        #expect(result.readings.count == 101)
        #expect(result.problems.map(\.field) == ["m7", "m99"])
    }

    @Test func bareJSONValueOnAMetricTopic() {
        let result = decode("21.5", metric: "temperature")
        #expect(result.readings.map(\.metric) == ["temperature"])
        #expect(result.readings.map(\.value) == [21.5])
        #expect(decode("true", metric: "door").readings.map(\.value) == [1])
    }

    @Test func partlyValidObjectKeepsItsGoodFields() {
        let result = decode(#"{"ts": 1732400000000, "t": 21.5, "status": "ok", "n": null, "list": [1, 2], "h": 40}"#)
        #expect(result.values == ["t": 21.5, "h": 40])
        #expect(result.reasons == [.nonNumericValue, .nonNumericValue, .unsupportedValue])
        #expect(result.problems.map(\.field) == ["status", "n", "list"])
    }

    @Test func partlyValidBatchKeepsItsGoodElements() {
        let result = decode(#"[{"ts": 1732400000000, "t": 1}, 5, {"ts": "yesterday", "t": 2}, {"ts": 1, "t": 3}, {"t": 4}]"#)
        #expect(result.readings.map(\.value) == [1, 4])
        #expect(result.reasons == [.unsupportedFormat, .invalidTimestamp, .timestampOutOfRange])
    }

    @Test func emptyBatchAndEmptyObjectHaveNoReadings() {
        #expect(decode("[]").reasons == [.noReadings])
        #expect(decode("{}").reasons == [.noReadings])
        #expect(decode(#"{"ts": 1732400000000}"#).reasons == [.noReadings])
    }
}
