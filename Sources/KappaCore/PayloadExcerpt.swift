/// Short, printable renderings of payload bytes for problem messages: never the whole payload.
enum PayloadExcerpt {
    static let maxBytes = 40

    /// `'x'` for a printable ASCII byte, `byte 0xNN` otherwise.
    static func describe(byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F {
            return "'\(Character(Unicode.Scalar(byte)))'"
        }
        return "byte 0x\(byte < 0x10 ? "0" : "")\(String(byte, radix: 16))"
    }

    /// The bytes as text, cut to `maxBytes` with `…`, control and non-ASCII bytes as `\xNN`.
    static func quote(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> String {
        let start = max(0, min(start, bytes.count)), end = max(start, min(end, bytes.count))
        var text = ""
        for byte in bytes[start..<min(end, start + maxBytes)] {
            if byte >= 0x20 && byte < 0x7F {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += "\\x\(byte < 0x10 ? "0" : "")\(String(byte, radix: 16))"
            }
        }
        if end - start > maxBytes { text += "…" }
        return text
    }
}
