/// A decimal number as scanned from text: `significand × 10^exponent`, sign apart.
///
/// Keeping the decimal form (rather than converting to Double at once) lets timestamps be scaled to
/// nanoseconds exactly, and lets most values convert with one exact multiplication or division.
@usableFromInline
struct DecimalNumber {
    var negative = false
    /// The first 19 significant digits.
    var significand: UInt64 = 0
    /// Number of digits in `significand` (leading zeros excluded).
    var digitCount = 0
    var exponent = 0
    /// Nonzero digits were dropped past the 19th; the exact-arithmetic fast paths do not apply.
    var truncated = false
    /// Byte range of the token in the input, for the slow conversion path.
    var start = 0
    var end = 0

    /// Number of digits before the decimal point (0 or less for magnitudes below 1).
    var integerDigitCount: Int { significand == 0 ? 0 : digitCount + exponent }

    /// What a scan found where a number should start.
    enum ScanResult {
        case number(DecimalNumber)
        /// No number here; `offset` is where the grammar broke.
        case invalid(offset: Int)
    }

    /// Scans a number at `index` in `bytes`, leaving `index` after it.
    ///
    /// Strict mode is JSON's grammar; lenient mode (line protocol, numeric strings) also allows a leading
    /// `+`, leading zeros and a missing integer or fraction part (`.5`, `5.`).
    @inline(__always)
    static func scan(_ bytes: UnsafeRawBufferPointer, at index: inout Int, lenient: Bool) -> ScanResult {
        var number = DecimalNumber()
        number.start = index
        let end = bytes.count
        var i = index
        if i < end && bytes[i] == UInt8(ascii: "-") {
            number.negative = true
            i += 1
        } else if lenient && i < end && bytes[i] == UInt8(ascii: "+") {
            i += 1
        }
        var integerDigits = 0
        while i < end, case let digit = bytes[i] &- UInt8(ascii: "0"), digit < 10 {
            if number.digitCount < 19 {
                if number.significand != 0 || digit != 0 {
                    number.significand = number.significand &* 10 &+ UInt64(digit)
                    number.digitCount += 1
                }
            } else {
                number.exponent += 1
                if digit != 0 { number.truncated = true }
            }
            integerDigits += 1
            i += 1
        }
        if !lenient {
            if integerDigits == 0 { return .invalid(offset: i) }
            if integerDigits > 1 && bytes[number.negative ? number.start + 1 : number.start] == UInt8(ascii: "0") {
                return .invalid(offset: number.negative ? number.start + 2 : number.start + 1)
            }
        }
        var fractionDigits = 0
        if i < end && bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < end, case let digit = bytes[i] &- UInt8(ascii: "0"), digit < 10 {
                if number.digitCount < 19 {
                    if number.significand != 0 || digit != 0 {
                        number.significand = number.significand &* 10 &+ UInt64(digit)
                        number.digitCount += 1
                    }
                    number.exponent -= 1
                } else if digit != 0 {
                    number.truncated = true
                }
                fractionDigits += 1
                i += 1
            }
            if fractionDigits == 0 && (!lenient || integerDigits == 0) { return .invalid(offset: i) }
        }
        if integerDigits == 0 && fractionDigits == 0 { return .invalid(offset: i) }
        if i < end && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
            i += 1
            var exponentNegative = false
            if i < end && (bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+")) {
                exponentNegative = bytes[i] == UInt8(ascii: "-")
                i += 1
            }
            var exponentValue = 0
            var exponentDigits = 0
            while i < end, case let digit = bytes[i] &- UInt8(ascii: "0"), digit < 10 {
                // Saturate: anything this large is zero or infinite anyway.
                if exponentValue < 1_000_000 { exponentValue = exponentValue * 10 + Int(digit) }
                exponentDigits += 1
                i += 1
            }
            if exponentDigits == 0 { return .invalid(offset: i) }
            number.exponent += exponentNegative ? -exponentValue : exponentValue
        }
        number.end = i
        index = i
        return .number(number)
    }

    /// The nearest Double (correctly rounded), ±infinity where it overflows.
    func doubleValue(in bytes: UnsafeRawBufferPointer) -> Double {
        if significand == 0 { return negative ? -0.0 : 0.0 }
        // Clinger's fast path: both operands exact, so one IEEE operation rounds correctly.
        if !truncated && significand <= 1 << 53 && exponent >= -22 && exponent <= 22 {
            var value = Double(significand)
            if exponent < 0 {
                value /= DecimalNumber.powersOfTen[-exponent]
            } else {
                value *= DecimalNumber.powersOfTen[exponent]
            }
            return negative ? -value : value
        }
        if integerDigitCount > 310 { return negative ? -.infinity : .infinity }
        if integerDigitCount < -330 { return negative ? -0.0 : 0.0 }
        // Rare: hand the token to the standard library's correctly rounded conversion.
        let text = String(decoding: bytes[start..<end], as: UTF8.self)
        return Double(text) ?? .nan
    }

    /// The value scaled by `10^scale` as an exact integer (fraction truncated toward zero), or nil where it
    /// does not fit Int64. Used for timestamps: scale 9 turns seconds into nanoseconds.
    func int64Value(scaledBy scale: Int) -> Int64? {
        if significand == 0 { return 0 }
        let power = exponent + scale
        var magnitude: UInt64
        if power >= 0 {
            guard power <= 19 else { return nil }
            let (product, overflow) = significand.multipliedReportingOverflow(by: DecimalNumber.integerPowersOfTen[power])
            guard !overflow else { return nil }
            magnitude = product
        } else {
            magnitude = -power > 19 ? 0 : significand / DecimalNumber.integerPowersOfTen[-power]
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    static let integerPowersOfTen: [UInt64] = {
        var powers: [UInt64] = [1]
        for _ in 1...19 { powers.append(powers[powers.count - 1] * 10) }
        return powers
    }()
}
