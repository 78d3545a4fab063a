import KappaCore

/// Parsers for PostgreSQL's text output of the types Kappa reads, working on bytes.
enum PostgresTextFormat {
    /// `\x0a1b…` (bytea_output = hex) to bytes.
    static func decodeHexBytea(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count >= 2, text.count % 2 == 0,
            text[text.startIndex] == UInt8(ascii: "\\"), text[text.startIndex + 1] == UInt8(ascii: "x")
        else { return nil }
        // Into an uninitialized array through raw buffers: a checkpoint reads back a stored sketch per rollup row,
        // and an append per byte with its capacity check was most of the cost.
        let count = (text.count - 2) / 2
        var valid = true
        let result = [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
            text.withUnsafeBufferPointer { input in
                var index = 2
                for position in 0..<count {
                    let high = hexValue(input[index]), low = hexValue(input[index + 1])
                    guard high | low < 16 else {
                        valid = false
                        break
                    }
                    output[position] = high << 4 | low
                    index += 2
                }
            }
            initialized = valid ? count : 0
        }
        return valid ? result : nil
    }

    /// A hex digit's value, or 16 or more for any other byte.
    @inline(__always)
    private static func hexValue(_ digit: UInt8) -> UInt8 {
        let decimal = digit &- UInt8(ascii: "0")
        if decimal < 10 { return decimal }
        // Lower-casing by the 0x20 bit maps "A"..."F" onto "a"..."f" (and no other byte onto them).
        let letter = (digit | 0x20) &- UInt8(ascii: "a")
        return letter < 6 ? letter + 10 : 0xFF
    }

    /// ISO `DateStyle` output: `2024-11-23 22:13:20.123456+00`, also with `+05:30`, `-03:00:12` offsets,
    /// without an offset (`timestamp`, read as UTC), a bare date, and a trailing ` BC`.
    /// `infinity` and `-infinity` have no `Timestamp` and give nil.
    static func parseTimestamp(_ text: ArraySlice<UInt8>) -> Timestamp? {
        var scanner = Scanner(text)
        guard var year = scanner.number(minDigits: 4, maxDigits: 9), scanner.skip("-"),
            let month = scanner.number(minDigits: 2, maxDigits: 2), scanner.skip("-"),
            let day = scanner.number(minDigits: 2, maxDigits: 2)
        else { return nil }
        var secondsOfDay: Int64 = 0
        var microseconds: Int64 = 0
        var offsetSeconds: Int64 = 0
        if scanner.skip(" ") && !scanner.peek("B") {
            guard let hour = scanner.number(minDigits: 2, maxDigits: 2), scanner.skip(":"),
                let minute = scanner.number(minDigits: 2, maxDigits: 2), scanner.skip(":"),
                let second = scanner.number(minDigits: 2, maxDigits: 2)
            else { return nil }
            secondsOfDay = hour * 3600 + minute * 60 + second
            if scanner.skip(".") {
                let start = scanner.position
                guard let fraction = scanner.number(minDigits: 1, maxDigits: 6) else { return nil }
                var scale = 6 - (scanner.position - start)
                microseconds = fraction
                while scale > 0 {
                    microseconds *= 10
                    scale -= 1
                }
            }
            if let sign = scanner.sign() {
                guard let hours = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                var offset = hours * 3600
                if scanner.skip(":") {
                    guard let minutes = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                    offset += minutes * 60
                    if scanner.skip(":") {
                        guard let seconds = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                        offset += seconds
                    }
                }
                offsetSeconds = sign * offset
            }
            _ = scanner.skip(" ")
        }
        if scanner.skip("BC") {
            year = 1 - year  // 1 BC is year 0 in the proleptic Gregorian calendar
        }
        guard scanner.isAtEnd, (1...12).contains(month),
            (1...Int64(CivilTime.daysIn(month: Int(month), year: Int(year)))).contains(day)
        else { return nil }
        let days = CivilTime.days(fromCivil: Int(year), Int(month), Int(day))
        let (seconds, overflowSeconds) = days.multipliedReportingOverflow(by: 86_400)
        guard !overflowSeconds else { return nil }
        let utcSeconds = seconds + secondsOfDay - offsetSeconds
        let (scaled, overflow) = utcSeconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        let (nanoseconds, overflowAdd) = scaled.addingReportingOverflow(microseconds * 1_000)
        guard !overflowAdd else { return nil }
        return Timestamp(nanosecondsSinceEpoch: nanoseconds)
    }

    private struct Scanner {
        let text: ArraySlice<UInt8>
        var position: Int

        init(_ text: ArraySlice<UInt8>) {
            self.text = text
            self.position = text.startIndex
        }

        var isAtEnd: Bool { position == text.endIndex }

        func peek(_ literal: String) -> Bool {
            var index = position
            for byte in literal.utf8 {
                guard index < text.endIndex, text[index] == byte else { return false }
                index += 1
            }
            return true
        }

        mutating func skip(_ literal: String) -> Bool {
            guard peek(literal) else { return false }
            position += literal.utf8.count
            return true
        }

        mutating func sign() -> Int64? {
            if skip("+") { return 1 }
            if skip("-") { return -1 }
            return nil
        }

        mutating func number(minDigits: Int, maxDigits: Int) -> Int64? {
            var value: Int64 = 0
            var digits = 0
            while position < text.endIndex, digits < maxDigits,
                case let byte = text[position], byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9")
            {
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
                digits += 1
                position += 1
            }
            return digits >= minDigits ? value : nil
        }
    }
}
