/// Parses RFC 3339 date-times from bytes: `2024-11-23T22:13:20.123+02:00`.
///
/// Accepts `T`, `t` or a space between date and time, `Z`/`z` or a `±HH:MM` offset, any number of fraction
/// digits (kept to the nanosecond, truncated below), and second 60 (counted as the next second's start).
enum RFC3339 {
    static func timestamp(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Timestamp? {
        var i = start
        func digits(_ count: Int) -> Int? {
            guard i + count <= end else { return nil }
            var value = 0
            for k in 0..<count {
                let digit = bytes[i + k] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                value = value * 10 + Int(digit)
            }
            i += count
            return value
        }
        func expect(_ allowed: UInt8...) -> Bool {
            guard i < end, allowed.contains(bytes[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")),
              let day = digits(2), expect(UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")),
              let hour = digits(2), expect(UInt8(ascii: ":")), let minute = digits(2), expect(UInt8(ascii: ":")),
              let second = digits(2)
        else { return nil }
        var nanosecond = 0
        if i < end && bytes[i] == UInt8(ascii: ".") {
            i += 1
            var count = 0
            while i < end, case let digit = bytes[i] &- UInt8(ascii: "0"), digit < 10 {
                if count < 9 { nanosecond = nanosecond * 10 + Int(digit) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 9) { nanosecond *= 10 }
        }
        var offsetSeconds = 0
        if expect(UInt8(ascii: "Z"), UInt8(ascii: "z")) {
            // UTC.
        } else if i < end, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            let sign = bytes[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let offsetHour = digits(2), expect(UInt8(ascii: ":")), let offsetMinute = digits(2),
                  offsetHour < 24, offsetMinute < 60
            else { return nil }
            offsetSeconds = sign * (offsetHour * 3_600 + offsetMinute * 60)
        } else {
            return nil
        }
        guard i == end else { return nil }
        let civil = CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second, nanosecond: nanosecond)
        guard let local = civil.timestamp else { return nil }
        let (utc, overflow) = local.nanosecondsSinceEpoch.subtractingReportingOverflow(Int64(offsetSeconds) * 1_000_000_000)
        return overflow ? nil : Timestamp(nanosecondsSinceEpoch: utc)
    }
}
