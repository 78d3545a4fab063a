import KappaCore
import KappaSparkplug

/// Payloads the gateway must dead-letter, with the reason it should give.
enum BadPayloads {
    /// The gateway's default payload limit (`DecodingLimits.default`); oversized payloads exceed it.
    static let payloadLimit = DecodingLimits.default.maxPayloadBytes

    /// A malformed payload for a topic of `format`, variant chosen by `variant` (any integer).
    static func malformed(format: TelemetryFormat, variant: Int, timestampMilliseconds: Int64, metric: String) -> (payload: [UInt8], reason: DeadLetterReason) {
        var ts: [UInt8] = []
        PayloadBytes.appendInteger(timestampMilliseconds, to: &ts)
        switch format {
        case .json, .values, .batch, .zigbee2mqtt, .tasmota, .shelly, .ttn:
            switch variant % 4 {
            case 0:
                // Cut off mid-number, as a lost TCP segment or a buggy firmware would.
                return (Array(#"{"ts":"#.utf8) + ts + Array(#","\#(metric)":21."#.utf8), .malformedJSON)
            case 1:
                return (Array("\(metric) is 21.5".utf8), .malformedJSON)
            case 2:
                return (Array(#"{"ts":"#.utf8) + ts + Array(#",""#.utf8) + [0xC3, 0x28] + Array(#"":1}"#.utf8), .invalidUTF8)
            default:
                return ([], .emptyPayload)
            }
        case .number:
            return variant % 2 == 0 ? (Array("twenty-one".utf8), .malformedNumber) : ([], .emptyPayload)
        case .line:
            return variant % 2 == 0 ? (Array("\(metric),device=".utf8), .malformedLineProtocol) : ([], .emptyPayload)
        case .sparkplug:
            // No empty payload: that is a valid protobuf message with no fields. Text where protobuf is
            // expected, or a varint cut off as a lost segment would.
            return variant % 2 == 0 ? (Array("\(metric) is 21.5".utf8), .sparkplugMalformed) : ([0x08, 0xFF, 0xFF], .sparkplugMalformed)
        }
    }

    /// A well-formed-looking payload larger than the limit by `excess` bytes.
    static func oversized(format: TelemetryFormat, excess: Int, timestampMilliseconds: Int64) -> [UInt8] {
        let size = payloadLimit + max(1, excess)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        switch format {
        case .number:
            bytes.append(contentsOf: repeatElement(UInt8(ascii: "1"), count: size))
        case .line:
            let head = Array("firmware,device=x note=\"".utf8)
            bytes.append(contentsOf: head)
            bytes.append(contentsOf: repeatElement(UInt8(ascii: "a"), count: size - head.count - 1))
            bytes.append(UInt8(ascii: "\""))
        case .json, .values, .batch, .zigbee2mqtt, .tasmota, .shelly, .ttn, .sparkplug:
            bytes.append(contentsOf: #"{"ts":"#.utf8)
            PayloadBytes.appendInteger(timestampMilliseconds, to: &bytes)
            bytes.append(contentsOf: #","note":""#.utf8)
            bytes.append(contentsOf: repeatElement(UInt8(ascii: "a"), count: max(0, size - bytes.count - 2)))
            bytes.append(contentsOf: "\"}".utf8)
        }
        return bytes
    }
}
