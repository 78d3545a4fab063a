import KappaCore
import Testing

/// Names PostgreSQL cannot store or index are dead-lettered at intake, never made into readings.
@Suite struct IntakeNameTests {
    @Test func nulInAJSONKeyIsAnInvalidMetric() {
        let result = decode(#"{"ok": 1, "bad\u0000key": 2}"#)
        #expect(result.readings.map(\.metric) == ["ok"])
        #expect(result.reasons == [.invalidMetric])
        #expect(result.problems.first?.message == #"the metric name 'bad\x00key' has the control character U+0000 at byte 3"#)
    }

    @Test func aLongJSONKeyIsAnInvalidMetric() {
        let key = String(repeating: "k", count: 3_000)
        let result = decode(#"{"ok": 1, "\#(key)": 2}"#)
        #expect(result.readings.map(\.metric) == ["ok"])
        #expect(result.reasons == [.invalidMetric])
        #expect(result.problems.first?.message.hasSuffix("is 3000 bytes long, over the limit of 128") == true)
    }

    @Test func nulInALineProtocolTagIsAnInvalidTag() {
        let payload = Array("m,room=a".utf8) + [0] + Array("b v=1\nm,room=ok v=2".utf8)
        let result = decode(payload, format: .lineProtocol)
        #expect(result.readings.map(\.value) == [2])
        #expect(result.reasons == [.invalidTag])
    }

    @Test func aLongDeviceInTheTopicRejectsTheWholeMessage() {
        let device = String(repeating: "x", count: 10_000)
        let result = decode(#"{"t": 1, "h": 2}"#, device: device)
        #expect(result.readings.isEmpty)
        #expect(result.reasons == [.invalidDevice])
        #expect(result.problems.first?.message.hasSuffix("in the topic is 10000 bytes long, over the limit of 256") == true)
    }

    @Test func namesAtTheLimitsAreAccepted() {
        let limits = NameLimits.default
        let device = String(repeating: "é", count: limits.maxDeviceBytes / 2)
        let metric = String(repeating: "m", count: limits.maxMetricBytes)
        let result = decode(#"{"\#(metric)": 1}"#, device: device, tags: [Tag(key: String(repeating: "k", count: limits.maxTagKeyBytes), value: "v")])
        #expect(result.problems.isEmpty)
        #expect(result.readings.count == 1)
        #expect(decode(#"{"\#(metric)x": 1}"#).reasons == [.invalidMetric])
    }

    @Test(arguments: [
        ("", "is empty"),
        ("a\u{7F}", "has the control character U+007F at byte 1"),
        ("tab\there", "has the control character U+0009 at byte 3"),
        ("c1\u{85}", "has the control character U+0085 at byte 2"),
    ])
    func flaws(_ name: String, _ flaw: String) {
        #expect(NameLimits.flaw(in: name, maxBytes: 10) == flaw)
    }

    @Test func ordinaryNamesHaveNoFlaw() {
        for name in ["d1", "température", "温度", "a.b-c_d:e/f", "🙂"] {
            #expect(NameLimits.flaw(in: name, maxBytes: 64) == nil)
        }
    }

    @Test func aBadTopicTagRejectsTheMessage() {
        let result = decode("21.5", format: .number, metric: "t", tags: [Tag(key: "site", value: String(repeating: "s", count: 300))])
        #expect(result.readings.isEmpty && result.reasons == [.invalidTag])
    }

    @Test func tooManyLineTagsAreAnInvalidTag() {
        let tags = (0..<40).map { ",t\($0)=v" }.joined()
        let result = decode("m\(tags) v=1", format: .lineProtocol)
        #expect(result.readings.isEmpty && result.reasons == [.invalidTag])
    }
}

/// A line protocol `device` tag must not override the topic's device unless the route says so.
@Suite struct LineProtocolDeviceTagTests {
    @Test func byDefaultALineNamingAnotherDeviceIsDeadLetteredAndOtherLinesCount() {
        let result = decode("m,device=other v=1\nm,device=mine v=2\nm v=3", format: .lineProtocol, device: "mine")
        #expect(result.reasons == [.invalidDevice])
        #expect(result.problems.first?.message == "line 1: its device tag 'other' is not the topic's device 'mine'; the topic names the device unless the route allows the tag")
        #expect(result.readings.map(\.device) == ["mine", "mine"])
        #expect(result.readings.map(\.value) == [2, 3])
        #expect(result.readings.allSatisfy { $0.tags.isEmpty }, "a device tag repeating the topic's device is dropped")
    }

    @Test func aRouteMayLetTheTagNameTheDevice() throws {
        let route = try TopicRoute("gateways/{device}/influx", format: .lineProtocol, lineProtocolDeviceTag: true)
        let match = try #require(TopicRouter(routes: [route]).match(topic: "gateways/g1/influx"))
        #expect(match.lineProtocolDeviceTag)
        var readings: [Reading] = [], problems: [DecodeProblem] = []
        PayloadDecoder().decode(match: match, payload: Array("m,device=other v=1".utf8), receivedAt: receivedAt, into: &readings, problems: &problems)
        #expect(readings.map(\.device) == ["other"] && readings.first?.tags == [])
    }

    @Test func aTaggedDeviceStillMeetsTheNameLimits() {
        let result = decode("m,device=\(String(repeating: "d", count: 300)) v=1", format: .lineProtocol, lineProtocolDeviceTag: true)
        #expect(result.readings.isEmpty && result.reasons == [.invalidDevice])
    }

    @Test func duplicateFieldsAreFoundAmongManyFields() {
        let fields = (0..<30_000).map { "f\($0)=1" }.joined(separator: ",")
        let result = decode("m \(fields),f7=2", format: .lineProtocol)
        #expect(result.readings.count == 30_000)
        #expect(result.reasons == [.duplicateKey])
    }
}
