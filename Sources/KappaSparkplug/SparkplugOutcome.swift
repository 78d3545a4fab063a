import KappaCore

/// What one Sparkplug message meant: the readings to store, the parts that could not be stored and why, and
/// what the registry and the host must do about the edge node.
public struct SparkplugOutcome: Sendable {
    public var readings: [Reading] = []
    /// Parts that became no reading and must be dead-lettered, each naming the metric and the reason.
    public var problems: [DecodeProblem] = []
    /// Metrics skipped by rule, not by fault: strings, bytes, files and the control metrics (counted, not
    /// dead-lettered, as a JSON string field with no mapping is).
    public var skipped = 0
    /// Devices that came online (a birth) or went offline (an accepted death).
    public var online: [String] = []
    public var offline: [String] = []
    /// A death certificate whose `bdSeq` is not the current session's: an old will delivered late, ignored.
    public var staleDeath = false
    /// The `seq` expected and the one received, when they differ.
    public var sequenceGap: (expected: UInt8, received: UInt8)?
    /// The edge node's aliases or births are out of step with its data: ask it to rebirth (rate-limited by
    /// ``RebirthRequests``).
    public var rebirthNeeded = false

    public init() {}
}

extension DeadLetterReason {
    /// The payload is not a Sparkplug B protobuf message.
    public static let sparkplugMalformed = DeadLetterReason(rawValue: "sparkplug_malformed")
    /// Data came from an edge node or device with no birth certificate in force.
    public static let sparkplugNoBirth = DeadLetterReason(rawValue: "sparkplug_no_birth")
    /// A metric named only by an alias the last birth did not declare.
    public static let sparkplugUnknownAlias = DeadLetterReason(rawValue: "sparkplug_unknown_alias")
    /// A data set or an array: no single number to store.
    public static let sparkplugUnsupportedType = DeadLetterReason(rawValue: "sparkplug_unsupported_type")
}
