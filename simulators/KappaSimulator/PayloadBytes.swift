/// Writes numbers and strings straight into payload bytes: the generator's hot path, so no `String`
/// formatting and no Foundation.
enum PayloadBytes {
    /// Values are rounded to this many decimals, so that payloads stay short and the reading a decoder gets
    /// back is exactly the `Double` the generator reports.
    static let decimals = 3
    static let scale = 1_000.0

    /// The value a payload will carry for `value`: rounded to `decimals` places.
    static func rounded(_ value: Double) -> Double {
        (value * scale).rounded() / scale
    }

    /// Appends `value` (already `rounded`) in plain decimal notation with at most `decimals` fraction digits.
    static func appendDecimal(_ value: Double, to bytes: inout [UInt8]) {
        let thousandths = Int64((value * scale).rounded())
        var magnitude = thousandths.magnitude
        if thousandths < 0 { bytes.append(UInt8(ascii: "-")) }
        let whole = magnitude / 1_000
        magnitude %= 1_000
        appendUnsigned(whole, to: &bytes)
        if magnitude != 0 {
            bytes.append(UInt8(ascii: "."))
            var divisor: UInt64 = 100
            while magnitude != 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(magnitude / divisor))
                magnitude %= divisor
                divisor /= 10
            }
        }
    }

    static func appendInteger(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendUnsigned(value.magnitude, to: &bytes)
    }

    static func appendUnsigned(_ value: UInt64, to bytes: inout [UInt8]) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest != 0
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// Appends `text` as a JSON string literal, escaping what JSON requires.
    static func appendJSONString(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array(#"\u00"#.utf8))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
