public import KappaCore

/// JSON text for the few JSON values the processors write (tags), built without Foundation.
public enum JSONText {
    /// `{"key":"value",…}`; the reading's tags are already sorted by key.
    public static func object(_ tags: [Tag]) -> String {
        var text = "{"
        for (index, tag) in tags.enumerated() {
            if index > 0 { text += "," }
            appendString(tag.key, to: &text)
            text += ":"
            appendString(tag.value, to: &text)
        }
        return text + "}"
    }

    /// Appends `string` as a JSON string literal.
    public static func appendString(_ string: String, to text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        text += "\""
    }
}
