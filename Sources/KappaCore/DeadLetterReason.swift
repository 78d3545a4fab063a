/// Why a message, or a part of one, could not become readings.
///
/// A struct over a stable string code rather than an enum, so that dead letters written by a newer gateway
/// still decode in an older one, and so that metrics labels and the `dead_letters.reason` column stay
/// exactly these strings.
public struct DeadLetterReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    /// The payload had no bytes, or only whitespace.
    public static let emptyPayload = DeadLetterReason(rawValue: "empty_payload")
    /// The payload was longer than `DecodingLimits.maxPayloadBytes`.
    public static let oversizedPayload = DeadLetterReason(rawValue: "oversized_payload")
    /// A JSON string (key or value) held bytes that are not UTF-8.
    public static let invalidUTF8 = DeadLetterReason(rawValue: "invalid_utf8")
    /// The JSON did not parse; the message names the byte offset.
    public static let malformedJSON = DeadLetterReason(rawValue: "malformed_json")
    /// A line of InfluxDB line protocol did not parse; the message names the line and byte offset.
    public static let malformedLineProtocol = DeadLetterReason(rawValue: "malformed_line_protocol")
    /// A bare-number payload was not a number.
    public static let malformedNumber = DeadLetterReason(rawValue: "malformed_number")
    /// A field held a string that is not a number, or null.
    public static let nonNumericValue = DeadLetterReason(rawValue: "non_numeric_value")
    /// A field was NaN or infinite (including numbers too large for a Double).
    public static let nonFiniteValue = DeadLetterReason(rawValue: "non_finite_value")
    /// A field held an array, or an object nested deeper than the limit allows.
    public static let unsupportedValue = DeadLetterReason(rawValue: "unsupported_value")
    /// The payload's shape does not fit its topic's format (for example an array on a bare-number topic).
    public static let unsupportedFormat = DeadLetterReason(rawValue: "unsupported_format")
    /// The topic matched no template.
    public static let unknownTopic = DeadLetterReason(rawValue: "unknown_topic")
    /// `ts` was not a number or an RFC 3339 string, or did not fit 64-bit nanoseconds.
    public static let invalidTimestamp = DeadLetterReason(rawValue: "invalid_timestamp")
    /// `ts` was outside the accepted window around the receive time.
    public static let timestampOutOfRange = DeadLetterReason(rawValue: "timestamp_out_of_range")
    /// The same key appeared twice in one object; the first occurrence was kept.
    public static let duplicateKey = DeadLetterReason(rawValue: "duplicate_key")
    /// The payload was well formed but held no numeric field at all.
    public static let noReadings = DeadLetterReason(rawValue: "no_readings")
    /// Objects and arrays were nested deeper than `DecodingLimits.maxNestingDepth`.
    public static let nestingTooDeep = DeadLetterReason(rawValue: "nesting_too_deep")
    /// The device id (from the topic, or a line protocol `device` tag where the route allows it) is empty,
    /// too long or holds a control character (see `NameLimits`).
    public static let invalidDevice = DeadLetterReason(rawValue: "invalid_device")
    /// A metric name (from the topic or a payload key) is empty, too long or holds a control character.
    public static let invalidMetric = DeadLetterReason(rawValue: "invalid_metric")
    /// A tag key or value is empty, too long or holds a control character, or a reading has too many tags.
    public static let invalidTag = DeadLetterReason(rawValue: "invalid_tag")

    /// Every reason this version of the gateway produces, for registering metrics up front.
    public static let allKnown: [DeadLetterReason] = [
        .emptyPayload, .oversizedPayload, .invalidUTF8, .malformedJSON, .malformedLineProtocol, .malformedNumber,
        .nonNumericValue, .nonFiniteValue, .unsupportedValue, .unsupportedFormat, .unknownTopic,
        .invalidTimestamp, .timestampOutOfRange, .duplicateKey, .noReadings, .nestingTooDeep,
        .invalidDevice, .invalidMetric, .invalidTag,
    ]
}
