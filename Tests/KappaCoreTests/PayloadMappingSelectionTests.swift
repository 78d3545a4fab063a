import KappaCore
import Testing

/// A mapped route parses only what its paths lead to and skips the rest byte by byte: what it skips must
/// still be checked as JSON (with the words a whole parse uses), and paths must resolve as on a whole tree.
@Suite("Payload mapping: only the parts on the paths are parsed")
struct PayloadMappingSelectionTests {
    func decodeMapped(_ payload: String, _ options: String, limits: DecodingLimits = .default) throws -> Decoded {
        // `~` stands for the byte 0xFF, which is never valid UTF-8.
        let bytes = payload.utf8.map { $0 == UInt8(ascii: "~") ? 0xFF : $0 }
        let match = TopicMatch(format: .json, device: "d1", mapping: try PayloadMapping(options: options))
        var result = Decoded()
        PayloadDecoder(limits: limits).decode(match: match, payload: bytes, receivedAt: receivedAt, into: &result.readings, problems: &result.problems)
        return result
    }

    @Test("a syntax error, bad UTF-8 or deep nesting in a skipped part rejects the message as a whole parse does", arguments: [
        #"{"meta":{"a":1 "b":2},"data":{"t":1}}"#,
        #"{"meta":["x",],"data":{"t":1}}"#,
        #"{"meta":{"a":tru},"data":{"t":1}}"#,
        #"{"meta":"bad \q escape","data":{"t":1}}"#,
        #"{"meta":[[[[[[1]]]]]],"data":{"t":1}}"#,
        #"{"data":{"t":1},"meta":{"a":"#,
        #"{"data":{"t":1}} trailing"#,
        #"{"meta":"~","data":{"t":1}}"#,
    ])
    func skippedPartsAreChecked(payload: String) throws {
        let limits = DecodingLimits(maxNestingDepth: 5)
        let selective = try decodeMapped(payload, "readings=/data", limits: limits)
        // Without a readings path the whole payload is the readings object: it is parsed whole.
        let whole = try decodeMapped(payload, "include=t", limits: limits)
        #expect(selective.readings.isEmpty)
        #expect(selective.problems.count == 1)
        #expect(selective.problems.map(\.message) == whole.problems.map(\.message))
        #expect(selective.problems.map(\.reason) == whole.problems.map(\.reason))
    }

    @Test("a key repeated in the payload: a path goes through its first occurrence only")
    func repeatedKeys() throws {
        let first = try decodeMapped(#"{"data":{"a":1},"data":{"b":2}}"#, "readings=/data")
        #expect(first.values == ["a": 1])
        let throughFirst = try decodeMapped(#"{"x":{"data":5},"x":{"data":{"b":2}}}"#, "readings=/x/data")
        #expect(throughFirst.readings.isEmpty)
        #expect(throughFirst.reasons == [.noReadings])
        #expect(throughFirst.problems.first?.message.contains("/x/data holds the number 5") == true)
    }

    @Test("indexes and digit segments reach list elements, skipped elements included in the count")
    func listElements() throws {
        let payload = #"""
        {"list":[{"skip":{"deep":[1,2,{"site":"north"}]}},{"v":{"t":1,"u":"2.5"}}],"other":[{"v":{"t":9}}],
         "at":1732400000000}
        """#
        let decoded = try decodeMapped(payload, "readings=/list/1/v;tag.site=$.list[0].skip.deep[2].site;time=/at;time_format=ms")
        #expect(decoded.problems.isEmpty)
        #expect(decoded.values == ["t": 1, "u": 2.5])
        #expect(decoded.readings.allSatisfy { $0.tags == [Tag(key: "site", value: "north")] })
        #expect(decoded.readings.allSatisfy { $0.time == Timestamp(millisecondsSinceEpoch: sampleTS) })

        let beyond = try decodeMapped(payload, "readings=$.list[2]")
        #expect(beyond.reasons == [.noReadings])
        #expect(beyond.problems.first?.message.contains("holds nothing") == true)
    }

    @Test("a path that meets a scalar where it expects an object leads nowhere; the scalar is not read")
    func scalarOnThePath() throws {
        let decoded = try decodeMapped(#"{"data":"not here","time":3}"#, "readings=/data/env")
        #expect(decoded.reasons == [.noReadings])
        #expect(decoded.problems.first?.message == "readings path /data/env holds nothing, not an object or a list of objects")
    }

    @Test("a payload that is a bare value on a route without a readings path is a dead letter, not a crash")
    func bareValueWithoutReadingsPath() throws {
        let decoded = try decodeMapped("42", "time=/at")
        #expect(decoded.reasons == [.noReadings])
        #expect(decoded.problems.first?.message.contains("the payload holds the number 42") == true)
    }
}
