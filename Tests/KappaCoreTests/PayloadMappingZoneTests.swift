import KappaCore
import Testing

/// Zone-less local times read in a named zone with daylight saving, from the tz database the `tzdata`
/// package installs (deploy/local/install-dependencies.sh). Transition dates checked against the EU rule
/// (last Sunday of March and of October, at 01:00 UTC) and New South Wales' (first Sunday of April and
/// October, at 02:00 local standard time).
@Suite("Payload mapping: local times in a zone with daylight saving")
struct PayloadMappingZoneTests {
    /// The instant a route with `time_format=local:ZONE` gives `local`, with the receive time one second later.
    func instant(_ local: String, zone: String, expected: String) throws -> (got: Timestamp?, expected: Timestamp) {
        let expectedTime = try #require(Timestamp(rfc3339: expected))
        let match = TopicMatch(format: .json, device: "d1", mapping: try PayloadMapping(options: "time=/at;time_format=local:\(zone)"))
        var result = Decoded()
        let payload = Array(#"{"at":"\#(local)","x":1}"#.utf8)
        PayloadDecoder().decode(
            match: match, payload: payload, receivedAt: Timestamp(nanosecondsSinceEpoch: expectedTime.nanosecondsSinceEpoch + 1_000_000_000),
            into: &result.readings, problems: &result.problems
        )
        #expect(result.problems.isEmpty, "\(result.problems)")
        return (result.readings.first?.time, expectedTime)
    }

    @Test("Europe/Berlin: winter and summer time, before summer time existed, and far past the zone file's last listed transition", arguments: [
        ("2026-01-15T12:00:00", "2026-01-15T11:00:00Z"),
        ("2026-07-01 12:00:00.25", "2026-07-01T10:00:00.25Z"),
        ("2045-01-15T12:00:00", "2045-01-15T11:00:00Z"),
        ("2045-07-01T12:00:00", "2045-07-01T10:00:00Z"),
        ("1985-07-01T12:00:00", "1985-07-01T10:00:00Z"),  // summer time since 1980
        ("1975-07-01T12:00:00", "1975-07-01T11:00:00Z"),  // none before
    ])
    func berlin(local: String, utc: String) throws {
        let result = try instant(local, zone: "Europe/Berlin", expected: utc)
        #expect(result.got == result.expected)
    }

    @Test("spring forward in Berlin (2026-03-29): 02:00–03:00 does not exist; a time in it moves forward by the hour", arguments: [
        ("2026-03-29T01:59:59", "2026-03-29T00:59:59Z"),
        ("2026-03-29T02:00:00", "2026-03-29T01:00:00Z"),
        ("2026-03-29T02:30:00", "2026-03-29T01:30:00Z"),
        ("2026-03-29T03:00:00", "2026-03-29T01:00:00Z"),
        ("2026-03-29T03:30:00", "2026-03-29T01:30:00Z"),
    ])
    func springGap(local: String, utc: String) throws {
        let result = try instant(local, zone: "Europe/Berlin", expected: utc)
        #expect(result.got == result.expected)
    }

    @Test("fall back in Berlin (2026-10-25): 02:00–03:00 happens twice; the earlier one, summer time, is taken", arguments: [
        ("2026-10-25T01:59:59", "2026-10-24T23:59:59Z"),
        ("2026-10-25T02:00:00", "2026-10-25T00:00:00Z"),
        ("2026-10-25T02:30:00", "2026-10-25T00:30:00Z"),
        ("2026-10-25T02:59:59.5", "2026-10-25T00:59:59.5Z"),
        ("2026-10-25T03:00:00", "2026-10-25T02:00:00Z"),
    ])
    func autumnOverlap(local: String, utc: String) throws {
        let result = try instant(local, zone: "Europe/Berlin", expected: utc)
        #expect(result.got == result.expected)
    }

    @Test("Australia/Sydney: summer time across the new year, and its autumn overlap", arguments: [
        ("2026-01-15T12:00:00", "2026-01-15T01:00:00Z"),
        ("2026-07-01T12:00:00", "2026-07-01T02:00:00Z"),
        ("2045-01-15T12:00:00", "2045-01-15T01:00:00Z"),
        ("2045-07-01T12:00:00", "2045-07-01T02:00:00Z"),
        ("2026-04-05T02:30:00", "2026-04-04T15:30:00Z"),
    ])
    func sydney(local: String, utc: String) throws {
        let result = try instant(local, zone: "Australia/Sydney", expected: utc)
        #expect(result.got == result.expected)
    }

    @Test("an unknown zone is a configuration error naming it; a name cannot leave the zone directory")
    func unknownZones() throws {
        let unknown = #expect(throws: PayloadMappingError.self) { try PayloadMapping(options: "time=/at;time_format=local:Europe/Berlinn") }
        #expect(unknown?.message.contains("Europe/Berlinn") == true)
        #expect(unknown?.message.contains("tzdata") == true)
        #expect(throws: PayloadMappingError.self) { try PayloadMapping(options: "time=/at;time_format=local:../../etc/passwd") }
        #expect(throws: PayloadMappingError.self) { try PayloadMapping(options: "time=/at;time_format=local:") }
        let notAZone = #expect(throws: PayloadMappingError.self) { try PayloadMapping(options: "time=/at;time_format=local:zone.tab") }
        #expect(notAZone?.message.contains("zone.tab") == true)
    }

    @Test("a time that carries its own offset is not a zone-less time: a dead letter naming the path and the zone")
    func timeWithAnOffset() throws {
        let match = TopicMatch(format: .json, device: "d1", mapping: try PayloadMapping(options: "time=/at;time_format=local:Europe/Berlin"))
        var result = Decoded()
        PayloadDecoder().decode(match: match, payload: Array(#"{"at":"2026-01-15T12:00:00+01:00","x":1}"#.utf8), receivedAt: receivedAt, into: &result.readings, problems: &result.problems)
        #expect(result.readings.isEmpty)
        #expect(result.reasons == [.invalidTimestamp])
        #expect(result.problems.first?.message.contains("time path /at") == true)
        #expect(result.problems.first?.message.contains("local time in Europe/Berlin") == true)
    }
}
