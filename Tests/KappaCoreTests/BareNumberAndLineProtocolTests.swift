import KappaCore
import Testing

@Suite struct BareNumberTests {
    @Test(arguments: [("21.5", 21.5), (" -3e2\n", -300), ("+4", 4), (".5", 0.5), ("007", 7), ("true", 1), ("false", 0), ("0", 0)])
    func accepted(_ payload: String, _ value: Double) {
        let result = decode(payload, format: .number, metric: "temperature")
        #expect(result.problems.isEmpty)
        #expect(result.readings == [Reading(device: "d1", metric: "temperature", time: receivedAt, value: value, timeSource: .received)])
    }

    @Test(arguments: ["NaN", "-inf", "Infinity", "1e400"])
    func nonFinite(_ payload: String) {
        #expect(decode(payload, format: .number, metric: "t").reasons == [.nonFiniteValue])
    }

    @Test func malformedNamesTheByte() {
        let result = decode("21.5abc", format: .number, metric: "t")
        #expect(result.reasons == [.malformedNumber])
        #expect(result.problems.first?.message == "metric 't': expected a bare number, found 21.5abc (invalid at byte 4)")
        #expect(decode("{\"v\": 1}", format: .number, metric: "t").reasons == [.malformedNumber])
    }

    @Test func needsAMetricFromTheTopic() {
        #expect(decode("21.5", format: .number).reasons == [.unsupportedFormat])
    }
}

@Suite struct LineProtocolTests {
    @Test func fieldsTagsAndNanosecondTimestamp() {
        let result = decode(
            "weather,device=ws1,room=kitchen temperature=21.5,humidity=40i,on=t 1732400000000000000",
            format: .lineProtocol, tags: [Tag(key: "site", value: "s1")], lineProtocolDeviceTag: true
        )
        #expect(result.problems.isEmpty)
        let tags = [Tag(key: "room", value: "kitchen"), Tag(key: "site", value: "s1")]
        let time = Timestamp(millisecondsSinceEpoch: sampleTS)
        #expect(result.readings == [
            Reading(device: "ws1", metric: "weather.temperature", time: time, value: 21.5, timeSource: .device, tags: tags),
            Reading(device: "ws1", metric: "weather.humidity", time: time, value: 40, timeSource: .device, tags: tags),
            Reading(device: "ws1", metric: "weather.on", time: time, value: 1, timeSource: .device, tags: tags),
        ])
    }

    @Test func valueFieldNamesTheMeasurementAndTopicGivesTheDevice() {
        let result = decode("temperature value=21.5\n", format: .lineProtocol)
        #expect(result.readings == [Reading(device: "d1", metric: "temperature", time: receivedAt, value: 21.5, timeSource: .received)])
    }

    @Test func lineTagOverridesTopicTag() {
        let result = decode("m,site=s2 v=1", format: .lineProtocol, tags: [Tag(key: "site", value: "s1")])
        #expect(result.readings.first?.tags == [Tag(key: "site", value: "s2")])
    }

    @Test func escapesCommentsBlankLinesAndUnits() {
        let payload = "# comment\n\nmy\\ room,lo\\=c=a\\,b f\\ 1=1.5,f2=-3u 1732400000\r\n  cpu usage=2e1 1732400000000\n"
        let result = decode(payload, format: .lineProtocol)
        #expect(result.problems.isEmpty)
        #expect(result.values == ["my room.f 1": 1.5, "my room.f2": -3, "cpu.usage": 20])
        #expect(result.readings.first?.tags == [Tag(key: "lo=c", value: "a,b")])
        #expect(result.readings.allSatisfy { $0.time.nanosecondsSinceEpoch == 1_732_400_000_000_000_000 })
    }

    @Test func badLinesAreReportedAndGoodLinesKept() {
        let payload = "m a=1\nm b=\nm c=\"text\",d=2\nm e=1 12abc\nm f=1.5i\nm g=1 1\nm h=1e999"
        let result = decode(payload, format: .lineProtocol, limits: DecodingLimits(maxPastNanoseconds: 1_000_000_000))
        #expect(result.values == ["m.a": 1, "m.d": 2])
        #expect(result.reasons == [.malformedLineProtocol, .nonNumericValue, .malformedLineProtocol, .malformedLineProtocol, .timestampOutOfRange, .nonFiniteValue])
        #expect(result.problems[0].message == "line 2: missing field value at byte 10")
        #expect(result.problems[2].message == "line 4: timestamp 12abc is not an integer epoch time within 1677–2262 at byte 32")
    }

    @Test func onlyCommentsHasNoReadings() {
        #expect(decode("# nothing\n", format: .lineProtocol).reasons == [.noReadings])
    }

    @Test func invalidUTF8() {
        #expect(decode([UInt8]("m,t=".utf8) + [0xC3, 0x28] + [UInt8](" v=1".utf8), format: .lineProtocol).reasons == [.invalidUTF8])
    }
}
