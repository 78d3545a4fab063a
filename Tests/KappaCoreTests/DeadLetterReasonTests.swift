import KappaCore
import Testing

/// Each reason the decoder produces, with the message a user reads in `dead_letters`.
@Suite struct DeadLetterReasonTests {
    @Test func codesAreStable() {
        #expect(DeadLetterReason.allKnown.map(\.rawValue) == [
            "empty_payload", "oversized_payload", "invalid_utf8", "malformed_json", "malformed_line_protocol",
            "malformed_number", "non_numeric_value", "non_finite_value", "unsupported_value", "unsupported_format",
            "unknown_topic", "invalid_timestamp", "timestamp_out_of_range", "duplicate_key", "no_readings",
            "nesting_too_deep", "invalid_device", "invalid_metric", "invalid_tag",
        ])
    }

    @Test(arguments: [
        ("", DeadLetterReason.emptyPayload, "the payload is empty"),
        (" \n\t ", .emptyPayload, "the payload holds only whitespace (4 bytes)"),
        (#"{"t": 1,}"#, .malformedJSON, "expected a key string, found '}' at byte 8"),
        (#"{"t" 1}"#, .malformedJSON, "expected ':' after the key, found '1' at byte 5"),
        (#"{"t": 01}"#, .malformedJSON, "malformed number 01 at byte 7"),
        (#"{"t": 1} x"#, .malformedJSON, "unexpected 'x' after the JSON value at byte 9"),
        (#"{"t": tru}"#, .malformedJSON, "expected 'true' at byte 6"),
        (#"{"t": "a"#, .malformedJSON, "the string starting at byte 6 is not closed at byte 8"),
        (#"{"t\x": 1}"#, .malformedJSON, "invalid escape 'x' at byte 3"),
        (#"{"\ud800": 1}"#, .malformedJSON, "high surrogate \\ud800 without its low surrogate at byte 2"),
        ("{\"a\nb\": 1}", .malformedJSON, "control character 0xa inside a string; it must be escaped at byte 3"),
        (#"{"t": 1e999}"#, .nonFiniteValue, "field 't' at byte 6: 1e999 is beyond the range of a Double"),
        (#"{"t": "NaN"}"#, .nonFiniteValue, "field 't' at byte 6 is the non-finite value \"NaN\""),
        (#"{"t": "warm"}"#, .nonNumericValue, "field 't' at byte 6 is the string \"warm\", not a number"),
        (#"{"t": null}"#, .nonNumericValue, "field 't' at byte 6 is null"),
        (#"{"t": [1]}"#, .unsupportedValue, "field 't' at byte 6 is an array; only numbers, booleans and objects are accepted"),
        (#""text""#, .unsupportedFormat, "expected a JSON object or array at byte 0; a bare value needs a topic template with {metric}"),
        (#"{"ts": "x", "t": 1}"#, .invalidTimestamp, "ts at byte 7 is \"x\": expected epoch s/ms/µs/ns within 1677–2262 or an RFC 3339 string; the object's readings are rejected"),
        ("{}", .noReadings, "the JSON payload holds no numeric field"),
        (#"{"a":{"b":{"c":{"d":1}}}}"#, .nestingTooDeep, "objects and arrays nest deeper than 3 levels at byte 15"),
    ])
    func reasonAndMessage(_ payload: String, _ reason: DeadLetterReason, _ message: String) {
        let result = decode(payload, limits: DecodingLimits(maxNestingDepth: 3))
        #expect(result.readings.isEmpty)
        #expect(result.reasons == [reason])
        #expect(result.problems.first?.message == message)
    }

    @Test func invalidUTF8InsideAString() {
        let payload: [UInt8] = Array(#"{"t"#.utf8) + [0xED, 0xA0, 0x80] + Array(#"": 1}"#.utf8)
        let result = decode(payload)
        #expect(result.reasons == [.invalidUTF8])
        #expect(result.problems.first?.message == "invalid UTF-8 at byte 3 inside a string")
        #expect(result.problems.first?.byteOffset == 3)
    }

    @Test func oversizedPayload() {
        let result = decode(String(repeating: " ", count: 11), limits: DecodingLimits(maxPayloadBytes: 10))
        #expect(result.reasons == [.oversizedPayload])
        #expect(result.problems.first?.message == "payload of 11 bytes exceeds the limit of 10 bytes")
    }

    @Test func syntaxErrorTakesBackTheWholeMessage() {
        let result = decode(#"[{"t": 1, "s": "x"}, {"t": 2}, {"t": 3"#)
        #expect(result.readings.isEmpty)
        #expect(result.reasons == [.malformedJSON])
    }

    @Test func deadLetterCarriesTheProblem() {
        let problem = DecodeProblem(reason: .nonNumericValue, message: "m")
        let letter = DeadLetter(topic: "t", payload: [1], receivedAt: receivedAt, problem: problem)
        #expect(letter.reason == .nonNumericValue && letter.message == "m")
    }
}

@Suite struct UnknownTopicTests {
    @Test func widenedFilterDeliversATopicNoTemplateMatches() throws {
        let router = TopicRouter(routes: [try TopicRoute("sites/{site}/x/{device}"), try TopicRoute("sites/y/{device}/{metric}")])
        let plan = router.subscriptionPlan
        #expect(plan.filters == ["sites/+/+/+"] && plan.widened)
        #expect(router.match(topic: "sites/z/w/d") == nil)
        let problem = DecodeProblem.unknownTopic("sites/z/w/d", filters: plan.filters)
        #expect(problem.reason == .unknownTopic)
        #expect(problem.message == "topic 'sites/z/w/d' matches no topic template (subscribed filters: sites/+/+/+)")
    }
}
