import KappaCore
import Testing

@Suite struct CivilTimeTests {
    @Test(arguments: [
        // (year, month, day, hour, minute, second, nanosecond, nanoseconds since epoch)
        (1970, 1, 1, 0, 0, 0, 0, Int64(0)),
        (2000, 2, 29, 0, 0, 0, 0, Int64(951_782_400) * 1_000_000_000),
        (2000, 3, 1, 0, 0, 0, 0, Int64(951_868_800) * 1_000_000_000),
        (1969, 12, 31, 23, 59, 59, 500_000_000, Int64(-500_000_000)),
        (1900, 3, 1, 0, 0, 0, 0, Int64(-2_203_891_200) * 1_000_000_000),
        (2024, 11, 23, 22, 13, 20, 0, Int64(1_732_400_000) * 1_000_000_000),
        (2262, 4, 11, 23, 47, 16, 854_775_807, Int64.max),
        (1677, 9, 21, 0, 12, 43, 145_224_192, Int64.min),
    ])
    func knownDates(_ c: (Int, Int, Int, Int, Int, Int, Int, Int64)) throws {
        let civil = CivilTime(year: c.0, month: c.1, day: c.2, hour: c.3, minute: c.4, second: c.5, nanosecond: c.6)
        let timestamp = try #require(civil.timestamp)
        #expect(timestamp.nanosecondsSinceEpoch == c.7)
        #expect(CivilTime(timestamp) == civil)
    }

    @Test func rfc3339Text() {
        #expect(Timestamp(nanosecondsSinceEpoch: -500_000_000).description == "1969-12-31T23:59:59.5Z")
        #expect(Timestamp(millisecondsSinceEpoch: sampleTS).description == "2024-11-23T22:13:20Z")
        #expect(Timestamp(nanosecondsSinceEpoch: 1).description == "1970-01-01T00:00:00.000000001Z")
    }

    @Test func roundTripsEveryDayAcrossLeapRules() throws {
        // 1896 to 2104 covers the 1900 and 2100 non-leap centuries and the 2000 leap one.
        var days = CivilTime.days(fromCivil: 1896, 1, 1)
        var expected = CivilTime(year: 1896, month: 1, day: 1)
        while expected.year < 2104 {
            let civil = CivilTime.civil(fromDays: days)
            #expect(civil.year == expected.year && civil.month == expected.month && civil.day == expected.day)
            expected.day += 1
            if expected.day > CivilTime.daysIn(month: expected.month, year: expected.year) {
                expected.day = 1
                expected.month += 1
                if expected.month > 12 { expected.month = 1; expected.year += 1 }
            }
            days += 1
        }
    }

    @Test func rejectsOutOfRangeFieldsAndOverflow() {
        #expect(CivilTime(year: 2001, month: 2, day: 29).timestamp == nil)
        #expect(CivilTime(year: 1900, month: 2, day: 29).timestamp == nil)
        #expect(CivilTime(year: 2024, month: 13, day: 1).timestamp == nil)
        #expect(CivilTime(year: 2024, month: 1, day: 1, hour: 24).timestamp == nil)
        #expect(CivilTime(year: 2263, month: 1, day: 1).timestamp == nil)
        #expect(CivilTime(year: 1677, month: 1, day: 1).timestamp == nil)
        #expect(CivilTime(year: Int.max, month: 1, day: 1).timestamp == nil)
        #expect(CivilTime(year: Int.min, month: 1, day: 1).timestamp == nil)
    }

    @Test func microsecondsFloorTowardsThePast() {
        #expect(Timestamp(nanosecondsSinceEpoch: -1).microsecondsSinceEpoch == -1)
        #expect(Timestamp(nanosecondsSinceEpoch: 1_999).microsecondsSinceEpoch == 1)
    }
}
